"""XLM meta-pretraining experiments at XLM-R scale, with the cross-lingual methods on top.

`xlm_meta(arg, arch, file, methods)` is what configs/xlm_meta_*.py, xlm_meta_tlm.py,
veco2.py, xlmp.py and meta_veco2_xlmp.py return: phase `meta` (English-only MLM)
then phase `xling` (MLM over LANGUAGES with alpha = 0.3), XLM-R base or large
(vocabulary 250,002, sequences of 512, bf16 activations, float32 parameters, scanned
and fully rematerialized layers, 4 accumulated micro-batches, FSDP mesh), monolingual
data from TFDS (config.data.mono = `tfds:wikipedia/20230601.{lang}`, array_record in
config.data.tfds.data_dir); the parallel stream reads config.data.parallel (default: the
corpus folder config.data.corpus_dir, or the demo corpus).

Sizes: 'smoke' (tiny model, demo corpus, seconds: the same code paths), 'demo'
(hidden 256 on the demo corpus, minutes here), 'base' (the paper setting).
"""
from xlmeta_jax.config import apply_preset, base_config, config_arg, phase

LANGUAGES = ["en", "de", "fr", "es", "ru", "zh", "ar", "hi", "ja", "ko", "tr", "vi", "th", "sw", "ur"]
BASE = dict(hidden=768, layers=12, heads=12, mlp=3072)
LARGE = dict(hidden=1024, layers=24, heads=16, mlp=4096)


def xlm_meta(arg, arch: dict, file: str, methods: tuple[str, ...] = ()):
    """The config for `arch` at size `arg`, plus `methods` ('tlm', 'veco2', 'xlmp') on top of
    meta-pretraining (shared by xlm_meta_large.py and the method configs)."""
    size, preset = config_arg(arg, {"base": None, "smoke": None, "demo": None}, file)
    c = base_config()
    c.model.update(dtype="bfloat16", remat="dots", scan_layers=True)
    c.mesh.update(data=1, fsdp=-1, tensor=1)
    if size == "base":
        c.model.update(arch)
        c.data.update(mono="tfds:wikipedia/20230601.{lang}", seq_len=512)
        c.tokenizer.update(vocab_size=250_000, sample_lines=10_000_000)
        c.optimizer.update(learning_rate=6e-4 if arch["layers"] <= 12 else 2.5e-4, warmup_steps=10_000,
                           accumulate=4)  # with remat 'full': 4.8 GB per device on 64 (python -m xlmeta_jax.plan)
        c.model.remat = "full"
        langs, steps, batch = LANGUAGES, (20_000, 180_000), 2048
        c.update(log_every=100)
        c.eval.update(every=5000, batch_size=256, rows_per_language=1024)
        c.checkpoint.update(every=2000, keep=3)
    else:
        small = dict(hidden=32, layers=2, heads=2, mlp=64) if size == "smoke" else dict(hidden=256, layers=4, heads=4, mlp=1024)
        c.model.update(small)
        c.data.update(seq_len=64 if size == "smoke" else 128,
                      max_docs_per_language=2000 if size == "smoke" else 0)
        c.tokenizer.update(vocab_size=2000, sample_lines=20_000, character_coverage=0.995) if size == "smoke" \
            else c.tokenizer.update(vocab_size=16000)
        langs, batch = "all", 16
        steps = (10, 10) if size == "smoke" else (40, 80) if methods else (250, 350)
        c.optimizer.warmup_steps = 5 if size == "smoke" else 60
        c.log_every = 2 if size == "smoke" else 5
        c.eval.update(every=10_000, batch_size=8, rows_per_language=8)
    c.phases = [
        phase("meta", steps[0], batch, dict(mono=dict(languages=["en"], alpha=1.0)), dict(mlm=1.0)),
        phase("xling", steps[1], batch, dict(mono=dict(languages=langs, alpha=0.3)), dict(mlm=1.0)),
    ]
    add_methods(c, methods, langs)
    apply_preset(c, preset)
    c.lock()
    return c


def add_methods(c, methods: tuple[str, ...], langs) -> None:
    """The cross-lingual objectives join the multilingual phase; XLM-P's prompts live in
    the model from the start, so their matching loss runs in every phase."""
    if {"tlm", "veco2"} & set(methods):  # VECO 2.0 trains TLM too: the same one
        add_tlm(c, langs)
    if "veco2" in methods:
        c.phases[-1].objectives.update(seq_contrast=1.0, tok_contrast=0.5)
    if "xlmp" in methods:
        c.model.update(prompt_pool=16, prompt_length=4, prompt_top_k=2)
        for p in c.phases:
            p.objectives.prompt_match = 0.1


def add_tlm(c, langs) -> None:
    """XLM's translation LM (Lample & Conneau 2019), the one TLM of every config: English-X
    pairs in the multilingual phase, masked on both sides, and XLM's language embeddings (one
    learned vector per language id at the input; XLM-R has none)."""
    xling = c.phases[-1]
    xling.streams.parallel = dict(languages=[l for l in langs if l != "en"] if langs != "all" else "all", alpha=0.3)
    xling.objectives.tlm = 1.0
    c.model.languages = 32  # room for every language of the run (LANGUAGES has 15)




EMERGING_LANGUAGES = ["en", "fr"]


def emerging(arg, file: str, *, separate_embeddings: bool = False, shared_top: int | None = None,
             languages: list[str] | None = None):
    """Conneau et al. 2020's sharing ablations, one bilingual MLM run each (no parallel data):
    `separate_embeddings` gives each language its own word-embedding table and decoder (no
    shared anchor pieces), `shared_top` = k shares only the top k blocks (the others per
    language; None = all shared). Every variant, the fully shared one included, has language
    embeddings, so that the grid differs only in what it shares. `languages` = one language
    trains a monolingual model (for aligning two independent models post hoc).

    Sizes: 'smoke' (tiny, tests), 'demo' (hidden 256, 4 layers, 200 steps on the demo corpus,
    minutes here), 'base' (XLM-R base on Wikipedia through TFDS)."""
    size, preset = config_arg(arg, {"base": None, "smoke": None, "demo": None}, file)
    langs = list(languages or EMERGING_LANGUAGES)
    c = base_config()
    if size == "base":
        c.model.update(BASE, dtype="bfloat16", remat="full")
        c.mesh.update(data=1, fsdp=-1, tensor=1)
        c.data.update(mono="tfds:wikipedia/20230601.{lang}", seq_len=512)
        c.tokenizer.update(vocab_size=100_000, sample_lines=2_000_000)
        c.optimizer.update(learning_rate=6e-4, warmup_steps=10_000, accumulate=4)
        steps, batch = 200_000, 1024
        c.update(log_every=100)
        c.eval.update(every=5000, batch_size=256, rows_per_language=1024)
        c.checkpoint.update(every=2000, keep=3)
    else:
        smoke = size == "smoke"
        c.model.update(dict(hidden=32, layers=2, heads=2, mlp=64) if smoke else dict(hidden=256, layers=4, heads=4,
                                                                                        mlp=1024))
        c.data.update(seq_len=64 if smoke else 128, max_docs_per_language=2000 if smoke else 0)
        c.tokenizer.update(vocab_size=2000 if smoke else 12000, sample_lines=20_000 if smoke else 200_000,
                           character_coverage=0.995 if smoke else 0.9995)
        steps, batch = (12, 8) if smoke else (200, 16)
        c.optimizer.warmup_steps = 3 if smoke else 30
        c.log_every = 2 if smoke else 10
        c.eval.update(every=steps, batch_size=8, rows_per_language=8 if smoke else 64)
        c.checkpoint.update(every=steps)
    c.model.update(languages=len(langs), separate_embeddings=separate_embeddings,
                   language_layers=0 if shared_top is None else c.model.layers - shared_top)
    # a tuple, so that the command line can override it: --config.phases[0].streams.mono.languages="('fr',)"
    c.phases = [phase("mlm", steps, batch, dict(mono=dict(languages=tuple(langs), alpha=0.5)), dict(mlm=1.0))]
    apply_preset(c, preset)
    c.lock()
    return c


BIBLE_META_LANGUAGES = ("en", "de", "fr", "es", "ru", "ar", "ko")
BIBLE_SIZES = {
    # the positive control's shape (configs/control.py), where structure emerges; steps: meta, xling
    "study": dict(hidden=64, layers=12, heads=1, mlp=256, vocab=8000, seq=128, batch=64, meta=750, xling=2250),
    "demo": dict(hidden=64, layers=12, heads=1, mlp=256, vocab=8000, seq=128, batch=64, meta=150, xling=450),
    "smoke": dict(hidden=32, layers=2, heads=2, mlp=64, vocab=2000, seq=64, batch=8, meta=10, xling=10),
}


def bible_meta(arg, file: str, *, joint: bool):
    """XLM meta-pretraining (Chi et al. 2021) on the Bible corpus, one arm of studies/meta.py:
    phase `meta` (English-only MLM) then phase `xling` (MLM over BIBLE_META_LANGUAGES), or
    with `joint` one phase over all of them for the same steps. Both see the same tokens with
    the same learning-rate schedule (warm-up, then linear decay over all steps), so the arms
    differ only in what the first steps read. studies/meta.py points data.corpus_dir at a
    folder with one verse per document. Sizes: 'smoke', 'demo', 'study' (the default)."""
    size, preset = config_arg(arg, BIBLE_SIZES, file)
    s = BIBLE_SIZES[size]
    c = base_config()
    c.data.update(corpus="bible", seq_len=s["seq"])
    c.tokenizer.update(vocab_size=s["vocab"], sample_lines=20_000, character_coverage=0.9995)
    c.model.update(hidden=s["hidden"], layers=s["layers"], heads=s["heads"], mlp=s["mlp"],
                   max_positions=s["seq"] + 2)
    total = s["meta"] + s["xling"]
    # 5e-4, not the control's 2e-3: at 2e-3 the meta arm fell to the unigram level when the six
    # new languages arrived and never left it (docs/studies/meta-search.md)
    c.optimizer.update(learning_rate=5e-4, warmup_steps=max(total // 60, 1))
    everything = dict(mono=dict(languages=BIBLE_META_LANGUAGES, alpha=0.3))
    if joint:
        c.phases = [phase("xling", total, s["batch"], everything, dict(mlm=1.0))]
    else:
        c.phases = [phase("meta", s["meta"], s["batch"], dict(mono=dict(languages=("en",), alpha=1.0)), dict(mlm=1.0)),
                    phase("xling", s["xling"], s["batch"], everything, dict(mlm=1.0))]
    c.log_every = max(total // 60, 1)
    c.eval.update(every=max(total // 8, 1), batch_size=16, rows_per_language=16)
    c.checkpoint.update(every=max(total // 8, 1), keep=1000)
    apply_preset(c, preset)
    c.lock()
    return c
