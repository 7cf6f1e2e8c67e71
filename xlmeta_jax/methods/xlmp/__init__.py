"""XLM-P (2023, instance-wise prompt retrieval: soft language clustering).

- prompts.py: the prompt pool, a piece of the model (keys, values, cosine top-k retrieval
  on the mean input embedding); model/encoder.py builds it when `model.prompt_pool` > 0 and
  prepends the retrieved prompts to every row.
- prompt_match.py: the objective `prompt_match`, the key-query matching loss.

Configs: configs/xlmp.py, configs/meta_veco2_xlmp.py (`model.prompt_pool`, `prompt_length`,
`prompt_top_k`, and `prompt_match` in every phase); choices: docs/methods.md, XLM-P.
"""
