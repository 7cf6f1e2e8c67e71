"""The positive control of the studies: English and "fake English" (the same English text as a
second language with its own word table and decoder, so no shared pieces), as in Dufter &
Schuetze 2020 and K et al. 2020. Structure must emerge: held-out verses of the two sides should
retrieve each other. Shared: the blocks, the positions and the special tokens; no language
vector (Dufter & Schuetze found language-specific positions remove multilinguality).

Reads a corpus folder with `mono/en.*` and `mono/fake.*` (studies/control.py builds it from the
Bible corpus). Sizes: `:smoke` (tests), `:demo` (the study's shape, 750 steps: where the
first seed passed 50%), default `:study` (the study's setting).
"""
from xlmeta_jax.config import apply_preset, base_config, config_arg, phase


def get_config(arg: str = "study"):
    size, preset = config_arg(arg, {"study": None, "smoke": None, "demo": None}, "configs/control.py")
    c = base_config()
    smoke = size == "smoke"
    c.model.update(hidden=32 if smoke else 64, layers=2 if smoke else 12, heads=1, mlp=64 if smoke else 256,
                   max_positions=130 if smoke else 258, languages=2, separate_embeddings=True,
                   shared_specials=True, language_vector=False)
    c.data.update(seq_len=64 if smoke else 128, max_docs_per_language=0)
    c.tokenizer.update(vocab_size=2000 if smoke else 2048, sample_lines=4000, character_coverage=1.0)
    steps, batch = (12, 8) if smoke else (750, 64) if size == "demo" else (3000, 64)
    c.optimizer.update(learning_rate=2e-3, warmup_steps=3 if smoke else 50)
    c.log_every = 2 if smoke else 50
    c.eval.update(every=steps, batch_size=8 if smoke else 32, rows_per_language=8 if smoke else 32)
    c.checkpoint.update(every=steps if smoke else 250, keep=1000)
    c.phases = [phase("mlm", steps, batch, dict(mono=dict(languages=("en", "fake"), alpha=1.0)), dict(mlm=1.0))]
    apply_preset(c, preset)
    c.lock()
    return c
