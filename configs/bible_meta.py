"""XLM meta-pretraining (Chi et al. 2021) on the Bible corpus: the arms of studies/meta.py.

`:meta`  phase `meta` (English-only MLM), then phase `xling` (MLM over all its languages);
`:joint` one phase of MLM over all languages from step 0.
Both see the same number of training tokens with the same learning-rate schedule (warm-up, then
linear decay over all steps), so the arms differ only in what the first steps read.
Languages: English + six of three other scripts (Latin de/fr/es, Cyrillic ru, Arabic ar,
Hangul ko), one public-domain edition each (python -m xlmeta_jax.data.corpora --corpus=bible);
studies/meta.py points data.corpus_dir at a folder with one verse per document. The shape is
the positive control's (configs/control.py: 12 layers of hidden 64), where structure emerges.
Sizes: `:meta` / `:joint` (the study), `:smoke_meta` / `:smoke_joint` (tests).
"""
from xlmeta_jax.config import base_config, config_arg, phase

LANGUAGES = ("en", "de", "fr", "es", "ru", "ar", "ko")
STUDY = dict(hidden=64, layers=12, heads=1, mlp=256, vocab=8000, seq=128, batch=64, meta=750, xling=2250)
SMOKE = dict(hidden=32, layers=2, heads=2, mlp=64, vocab=2000, seq=64, batch=8, meta=6, xling=6)


def get_config(arg: str = "meta"):
    arm, _ = config_arg(arg, {"meta": None, "joint": None, "smoke_meta": None, "smoke_joint": None},
                        "configs/bible_meta.py")
    s = SMOKE if arm.startswith("smoke") else STUDY
    c = base_config()
    c.data.update(corpus="bible", seq_len=s["seq"])
    c.tokenizer.update(vocab_size=s["vocab"], sample_lines=20_000, character_coverage=0.9995)
    c.model.update(hidden=s["hidden"], layers=s["layers"], heads=s["heads"], mlp=s["mlp"],
                   max_positions=s["seq"] + 2)
    total = s["meta"] + s["xling"]
    c.optimizer.update(learning_rate=2e-3, warmup_steps=max(total // 60, 1))
    everything = dict(mono=dict(languages=LANGUAGES, alpha=0.3))
    if arm.endswith("joint"):
        c.phases = [phase("xling", total, s["batch"], everything, dict(mlm=1.0))]
    else:
        c.phases = [phase("meta", s["meta"], s["batch"], dict(mono=dict(languages=("en",), alpha=1.0)), dict(mlm=1.0)),
                    phase("xling", s["xling"], s["batch"], everything, dict(mlm=1.0))]
    c.log_every = max(total // 60, 1)
    c.eval.update(every=max(total // 8, 1), batch_size=16, rows_per_language=16)
    c.checkpoint.update(every=max(total // 8, 1), keep=1000)
    c.lock()
    return c
