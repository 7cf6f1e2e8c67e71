"""TreLM (Li et al., cross-lingual transferring of pre-trained contextualized language models):
give a trained encoder a new language's vocabulary, then train it on that language.

- transfer.py: the start-up, before step 0 (training floor): loads the source encoder
  (config.transfer.source), builds the new word table in the source's embedding space
  (PPMI-SVD vectors mapped by the game, a dictionary or identical pieces) and the step-0
  parameters, with the TRILayer as a copy of the block below it; writes WORKDIR/transfer.json
  and the source's tokenizer (WORKDIR/source_tokenizer/).
- alignment_game.py: the embedding-alignment game (MUSE's adversarial map with
  orthogonalisation, several starts at once) that transfer.py plays; not an objective.
- trelm_lm.py: the objective `trelm_lm`, TreLM's cross-lingual LM (English sentence in the
  source vocabulary -> the target sentence's pieces, re-ordered at the TRILayer).
- source_side.py: the hidden states of an English sentence read as `trelm_lm` reads the
  English side (source vocabulary, re-positioned at the TRILayer): how evaluation encodes English.

The TRILayer itself stays in model/encoder.py (`model.tri_layer`, `Encoder.cross_lingual`):
it is one more of the encoder's own blocks, run inside the encoder's block loop, so it has
no module to move. The target order of the parallel stream is data/pipeline.py
`target_order`. Configs: configs/trelm.py (`:smoke_source`/`:demo_source` train the source,
`:smoke`/`:demo` transfer, `:smoke_scratch`/`:demo_scratch` the baseline); choices:
docs/methods.md, TreLM.
"""
