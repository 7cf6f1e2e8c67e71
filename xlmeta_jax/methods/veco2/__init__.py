"""VECO 2.0 (2023, multi-granularity contrastive learning on parallel data).

- contrastive.py: what both objectives share: InfoNCE over sentence vectors and over the
  tokens of a pair row, encoding one side of a pair, the options' check.
- seq_contrast.py: the objective `seq_contrast`, a sentence and its translation (pooled
  with model/pooling.py, the vector evaluation reads) against the batch's other translations.
- tok_contrast.py: the objective `tok_contrast`, dictionary translations inside a pair row
  against the row's other tokens (the links: data/align.py, data/pipeline.py).

VECO 2.0 also trains MLM and TLM (objectives/). Configs: configs/veco2.py,
configs/meta_veco2_xlmp.py; choices: docs/methods.md, VECO 2.0.
"""
