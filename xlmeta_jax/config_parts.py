"""The pieces that several config files share: size tables, model shapes, the settings of a
family of runs, a method's model options and a stream or phase that several configs train.

Each piece is a small named function or table that a config calls by name; nothing here is
switched on by a flag. A config file lists its own phases with their streams and objectives
(`c.phases = [meta_phase(...), phase("xling", ...)]`), so that it reads on its own; what a
piece does is said here, once.
"""
from ml_collections import config_dict

from xlmeta_jax.config import apply_preset, base_config, phase

# Encoder shapes: XLM-R base and large, and the small ones of the 'smoke' (seconds: tests and
# quick checks) and 'demo' (minutes here) sizes.
BASE = dict(hidden=768, layers=12, heads=12, mlp=3072)
LARGE = dict(hidden=1024, layers=24, heads=16, mlp=4096)
SMALL = {"smoke": dict(hidden=32, layers=2, heads=2, mlp=64), "demo": dict(hidden=256, layers=4, heads=4, mlp=1024)}

WIKIPEDIA = "tfds:wikipedia/20230601.{lang}"  # array_record in config.data.tfds.data_dir
LANGUAGES = ("en", "de", "fr", "es", "ru", "zh", "ar", "hi", "ja", "ko", "tr", "vi", "th", "sw", "ur")


def paper_scale(c: config_dict.ConfigDict, shape: dict, *, vocab_size: int, sample_lines: int,
                learning_rate: float) -> None:
    """XLM-R's setting: `shape` with bf16 activations over float32 parameters, every layer
    rematerialized and 4 accumulated micro-batches on an FSDP mesh (XLM-R base: 4.8 GB per
    device on 64, `python -m xlmeta_jax.plan`), Wikipedia through TFDS in sequences of 512,
    and the logging, evaluation and checkpoint cadence of a days-long run."""
    c.model.update(shape, dtype="bfloat16", remat="full")
    apply_preset(c, "fsdp")
    c.data.update(mono=WIKIPEDIA, seq_len=512)
    c.tokenizer.update(vocab_size=vocab_size, sample_lines=sample_lines)
    c.optimizer.update(learning_rate=learning_rate, warmup_steps=10_000, accumulate=4)
    c.log_every = 100
    c.eval.update(every=5000, batch_size=256, rows_per_language=1024)
    c.checkpoint.update(every=2000, keep=3)


def small_scale(c: config_dict.ConfigDict, size: str, *, demo_vocab: int) -> None:
    """The small shape of `size` ('smoke' or 'demo') on the demo corpus; 'smoke' caps the
    documents and the tokenizer's sample, so that a run takes seconds."""
    c.model.update(SMALL[size])
    if size == "smoke":
        c.data.update(seq_len=64, max_docs_per_language=2000)
        c.tokenizer.update(vocab_size=2000, sample_lines=20_000, character_coverage=0.995)
    else:
        c.data.seq_len = 128
        c.tokenizer.vocab_size = demo_vocab


def meta_phase(steps: int, batch_size: int, **objectives: float) -> config_dict.ConfigDict:
    """Chi et al. 2021's phase `meta`: MLM on English only, before the multilingual phase;
    `objectives` (name=weight) are those of methods that train from step 0."""
    return phase("meta", steps, batch_size, dict(mono=dict(languages=("en",), alpha=1.0)), dict(mlm=1.0, **objectives))


def xling_phase(size: dict, objectives: dict, *, pairs: bool = False) -> config_dict.ConfigDict:
    """The multilingual phase `xling` of an XLM meta-pretraining run of `size` (XLM_META_SIZES):
    MLM text of its languages sampled with alpha 0.3 and, with `pairs`, TLM's English-X pairs
    (tlm_pairs), for `objectives` (name -> weight)."""
    streams = dict(mono=dict(languages=size["languages"], alpha=0.3))
    if pairs:
        streams["parallel"] = tlm_pairs(size["languages"])
    return phase("xling", size["xling"], size["batch"], streams, objectives)


# XLM meta-pretraining runs (configs/xlm_meta.py and the method configs on it) at each size:
# batch, the languages of phase `xling`, the steps of phases `meta` and `xling`, and at the
# paper's scales (the paper's setting) the model.
PAPER_SETTING = dict(batch=2048, languages=LANGUAGES, meta=20_000, xling=180_000)
XLM_META_SIZES = {
    "base": dict(PAPER_SETTING, model=BASE),
    "large": dict(PAPER_SETTING, model=LARGE),
    "smoke": dict(batch=16, languages="all", meta=10, xling=10),
    "demo": dict(batch=16, languages="all", meta=250, xling=350),
}
# The method configs' demo is shorter: their steps read the pairs stream and run more passes
# (120 steps took 3 to 11 minutes here, README).
METHOD_SIZES = {**XLM_META_SIZES, "demo": dict(XLM_META_SIZES["demo"], meta=40, xling=80)}


def xlm_meta_run(size: str) -> config_dict.ConfigDict:
    """Everything of an XLM meta-pretraining run but its phases. 'base'/'large': that model in
    XLM-R's setting and vocabulary; 'smoke'/'demo': a small model on the demo corpus through
    the same code paths (bf16, scanned and rematerialized layers, FSDP mesh)."""
    c = base_config()
    c.model.update(dtype="bfloat16", remat="dots", scan_layers=True)
    apply_preset(c, "fsdp")
    shape = XLM_META_SIZES[size].get("model")
    if shape:
        paper_scale(c, shape, vocab_size=250_000, sample_lines=10_000_000,
                    learning_rate=6e-4 if shape["layers"] <= 12 else 2.5e-4)
    else:
        small_scale(c, size, demo_vocab=16000)
        c.optimizer.warmup_steps = 5 if size == "smoke" else 60
        c.log_every = 2 if size == "smoke" else 5
        c.eval.update(every=10_000, batch_size=8, rows_per_language=8)
    return c


def tlm_pairs(languages: str | tuple) -> dict:
    """The parallel stream of XLM's translation LM (Lample & Conneau 2019): English-X pairs for
    every other language of the multilingual phase. Every config that trains `tlm` reads it
    and has add_language_embeddings, so that `tlm` means one thing everywhere."""
    return dict(languages="all" if languages == "all" else tuple(l for l in languages if l != "en"), alpha=0.3)


def add_language_embeddings(c: config_dict.ConfigDict) -> None:
    """XLM's language embeddings, which its TLM reads: one learned vector per language id at the
    input (XLM-R has none); 32 leaves room for every language of a run (LANGUAGES has 15)."""
    c.model.languages = 32


def add_prompt_pool(c: config_dict.ConfigDict) -> None:
    """XLM-P's pool: 16 prompts of 4 vectors, the top 2 by cosine prepended to each row."""
    c.model.update(prompt_pool=16, prompt_length=4, prompt_top_k=2)


# Conneau et al. 2020's sharing grid (configs/emerging_*.py) at each size: batch and steps.
EMERGING_SIZES = {
    "base": dict(batch=1024, steps=200_000),
    "smoke": dict(batch=8, steps=12),
    "demo": dict(batch=16, steps=200),
}
EMERGING_LANGUAGES = ("en", "fr")


def emerging_run(size: str, languages: tuple) -> config_dict.ConfigDict:
    """Everything of a run of the sharing grid but its phase and what its languages share:
    'base' XLM-R base in XLM-R's setting with a 100k vocabulary, 'smoke'/'demo' small models on
    the demo corpus. Every member, the fully shared one included, has language embeddings, so
    that the grid differs only in what it shares."""
    c = base_config()
    if size == "base":
        paper_scale(c, BASE, vocab_size=100_000, sample_lines=2_000_000, learning_rate=6e-4)
    else:
        smoke, steps = size == "smoke", EMERGING_SIZES[size]["steps"]
        small_scale(c, size, demo_vocab=12000)
        c.optimizer.warmup_steps = 3 if smoke else 30
        c.log_every = 2 if smoke else 10
        c.eval.update(every=steps, batch_size=8, rows_per_language=8 if smoke else 64)
        c.checkpoint.update(every=steps)
    c.model.languages = len(languages)
    return c


def emerging_mlm(size: str, languages: tuple) -> config_dict.ConfigDict:
    """The grid's one phase: MLM over `languages` (alpha 0.5), no parallel data."""
    s = EMERGING_SIZES[size]
    return phase("mlm", s["steps"], s["batch"], dict(mono=dict(languages=languages, alpha=0.5)), dict(mlm=1.0))


# The arms of studies/meta.py (configs/bible_meta.py, bible_joint.py) at each size; steps of the
# meta arm's two phases, whose sum the joint arm trains in one.
BIBLE_META_LANGUAGES = ("en", "de", "fr", "es", "ru", "ar", "ko")
BIBLE_SIZES = {
    # the positive control's shape (configs/control.py), where structure emerges
    "study": dict(hidden=64, layers=12, heads=1, mlp=256, vocab=8000, seq=128, batch=64, meta=750, xling=2250),
    "demo": dict(hidden=64, layers=12, heads=1, mlp=256, vocab=8000, seq=128, batch=64, meta=150, xling=450),
    "smoke": dict(hidden=32, layers=2, heads=2, mlp=64, vocab=2000, seq=64, batch=8, meta=10, xling=10),
}


def bible_run(size: str) -> config_dict.ConfigDict:
    """Everything of an arm of studies/meta.py but its phases, the same for both arms: the
    Bible corpus (studies/meta.py points data.corpus_dir at a folder with one verse per
    document) and one learning-rate schedule (warm-up, then linear decay over all steps), so
    that the arms differ only in what the first steps read."""
    s = BIBLE_SIZES[size]
    total = s["meta"] + s["xling"]
    c = base_config()
    c.data.update(corpus="bible", seq_len=s["seq"])
    c.tokenizer.update(vocab_size=s["vocab"], sample_lines=20_000, character_coverage=0.9995)
    c.model.update(hidden=s["hidden"], layers=s["layers"], heads=s["heads"], mlp=s["mlp"],
                   max_positions=s["seq"] + 2)
    # 5e-4, not the control's 2e-3: at 2e-3 the meta arm fell to the unigram level when the six
    # new languages arrived and never left it (docs/studies/meta-search.md)
    c.optimizer.update(learning_rate=5e-4, warmup_steps=max(total // 60, 1))
    c.log_every = max(total // 60, 1)
    c.eval.update(every=max(total // 8, 1), batch_size=16, rows_per_language=16)
    c.checkpoint.update(every=max(total // 8, 1), keep=1000)
    return c


# The studies of the four other seed claims on the Bible corpus (studies/veco2.py, xlmp.py,
# trelm.py, emerging.py): bible_run's shape and corpus, their own steps, batch and learning rate.
# Runs of one phase from random weights use the control's 2e-3 (configs/control.py: structure
# emerged; the meta study's joint arm reached a lower held-out loss at 2e-3 than at 5e-4,
# docs/studies/meta-search.md); runs with a phase switch keep bible_run's 5e-4, chosen because
# 2e-3 collapsed at the meta arm's switch.
ONE_PHASE_LR = 2e-3


def bible_study_run(size: str, steps: int, learning_rate: float) -> config_dict.ConfigDict:
    """bible_run(size) for a run of `steps` steps at `learning_rate`: warm-up and the logging,
    evaluation and checkpoint cadence follow the steps as bible_run's follow its own."""
    c = bible_run(size)
    c.optimizer.update(learning_rate=learning_rate, warmup_steps=max(steps // 60, 1))
    c.log_every = max(steps // 60, 1)
    c.eval.every = max(steps // 8, 1)
    c.checkpoint.every = max(steps // 8, 1)
    return c


# VECO 2.0 (configs/bible_tlm.py, bible_veco2.py): studies/veco2.py's corpus holds English and the
# languages with a FreeDict train dictionary (../shared/data/dictionaries) for the token-level
# contrast, three scripts. Each step reads batch monolingual rows and batch verse pairs.
BIBLE_VECO2_LANGUAGES = ("de", "fr", "es", "ru", "ar")
BIBLE_PARALLEL_SIZES = {"study": dict(steps=600, batch=32), "demo": dict(steps=150, batch=32),
                        "smoke": dict(steps=10, batch=8)}


def bible_parallel_run(size: str) -> config_dict.ConfigDict:
    """Everything of an arm of studies/veco2.py but its phase: bible_study_run at `size` with
    XLM's language embeddings, as every config that trains `tlm` (tlm_pairs)."""
    c = bible_study_run(size, BIBLE_PARALLEL_SIZES[size]["steps"], ONE_PHASE_LR)
    add_language_embeddings(c)
    return c


def bible_parallel_phase(size: str, objectives: dict) -> config_dict.ConfigDict:
    """One phase over every language of the corpus (the study's corpus holds six): their text
    (alpha 0.3) and their English-X pairs (tlm_pairs: the one TLM stream), with `objectives`."""
    s = BIBLE_PARALLEL_SIZES[size]
    streams = dict(mono=dict(languages="all", alpha=0.3), parallel=tlm_pairs("all"))
    return phase("xling", s["steps"], s["batch"], streams, objectives)


# XLM-P (configs/bible_lowres.py, bible_xlmp.py): eight languages, several per script (Latin,
# Arabic) and two scripts alone (Cyrillic, Hangul); studies/xlmp.py's corpus keeps about 5% of
# the train verses of BIBLE_LOW_RESOURCE, one per script family, so that a low-resource language
# can share prompts with a high-resource one of its script (Hangul's has none).
BIBLE_XLMP_LANGUAGES = ("en", "fr", "es", "de", "ar", "fa", "ru", "ko")
BIBLE_LOW_RESOURCE = ("de", "fa", "ko")
BIBLE_MONO_SIZES = {"study": dict(steps=1000, batch=64), "demo": dict(steps=200, batch=64),
                    "smoke": dict(steps=10, batch=8)}


def bible_mixture_phase(size: str, objectives: dict) -> config_dict.ConfigDict:
    """One phase of MLM over BIBLE_XLMP_LANGUAGES sampled with alpha 0.3 (XLM-R's: a language
    with 5% of the text is drawn about 40% as often as a full one), with `objectives`."""
    s = BIBLE_MONO_SIZES[size]
    return phase("mlm", s["steps"], s["batch"], dict(mono=dict(languages=BIBLE_XLMP_LANGUAGES, alpha=0.3)),
                 objectives)


# Emerging cross-lingual structure (configs/bible_emerging.py): a bilingual model per language
# pair for `steps`; a monolingual model trains half of them, so that a pair of monolingual models
# sees the tokens of one bilingual model.
BIBLE_EMERGING_SIZES = {"study": dict(steps=1000, batch=64), "demo": dict(steps=200, batch=64),
                        "smoke": dict(steps=20, batch=8)}


# TreLM (configs/bible_trelm.py): a source model (English, or the meta study's seven languages)
# of `source` steps; the transfer to TARGET with its own tokenizer of target_vocab pieces, for
# `transfer` + `adapt` steps of `batch` rows, and the scratch baseline for as many.
BIBLE_TRELM_TARGET = "pt"
BIBLE_TRELM_SIZES = {
    "study": dict(source=1200, source_batch=64, transfer=300, adapt=300, batch=32, target_vocab=2000),
    "demo": dict(source=300, source_batch=64, transfer=75, adapt=75, batch=32, target_vocab=2000),
    "smoke": dict(source=12, source_batch=8, transfer=10, adapt=10, batch=8, target_vocab=200),
}
# TreLM's transfer phase trains the new language's word table, its output bias and the TRILayer;
# the adapt phase everything but the frozen source table (as configs/trelm.py).
TRELM_NEW_PARAMETERS = "word_embeddings/.*|lm_bias|tri_layer/.*"
TRELM_ALL_BUT_SOURCE_TABLE = "(?!source_word_embeddings$).*"


def trelm_phases(target: str, transfer_steps: int, adapt_steps: int, batch: int) -> list:
    """TreLM's two phases on `target`: `transfer` (cross-lingual LM from the English side of the
    English-target pairs, and target MLM; the new parameters only), then `adapt` (target MLM)."""
    mono = dict(mono=dict(languages=(target,), alpha=1.0))
    return [phase("transfer", transfer_steps, batch, dict(**mono, parallel=dict(languages=(target,), alpha=1.0)),
                  dict(mlm=1.0, trelm_lm=1.0), trainable=TRELM_NEW_PARAMETERS),
            phase("adapt", adapt_steps, batch, mono, dict(mlm=1.0), trainable=TRELM_ALL_BUT_SOURCE_TABLE)]
