"""XLM meta-pretraining (Chi et al. 2021) at XLM-R base scale, reading TFDS datasets by name.

Phase `meta`: English-only MLM; phase `xling`: MLM over LANGUAGES sampled with
alpha = 0.3 (XLM-R). Architecture XLM-R base: 12 layers, hidden 768, 12 heads,
MLP 3072, vocabulary 250,002, sequences of 512; bf16 activations with float32
parameters, layers scanned and rematerialized ('full'), 4 accumulated micro-batches
per step, FSDP mesh by default.
Datasets: `wikipedia/20230601.<lang>` prepared as array_record in
config.data.tfds.data_dir (see README "Scaling out").

Sizes: `:smoke` (tiny model, demo corpus, seconds: checks the same code paths),
`:demo` (hidden 256 on the demo corpus), no argument = XLM-R base.
A mesh preset may follow: `configs/xlm_meta_base.py:base,fsdp_tp`.
"""
from xlmeta_jax.config import apply_preset, base_config, config_arg, phase

LANGUAGES = ["en", "de", "fr", "es", "ru", "zh", "ar", "hi", "ja", "ko", "tr", "vi", "th", "sw", "ur"]
ARCH = dict(hidden=768, layers=12, heads=12, mlp=3072)


def build(arg, arch: dict, file: str):
    """The config for `arch` at size `arg` (shared with xlm_meta_large.py)."""
    size, preset = config_arg(arg, {"base": None, "smoke": None, "demo": None}, file)
    c = base_config()
    c.model.update(dtype="bfloat16", remat="dots", scan_layers=True)
    c.mesh.update(data=1, fsdp=-1, tensor=1)
    if size == "base":
        c.model.update(arch)
        c.data.update(source="tfds", seq_len=512)
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
        c.tokenizer.update(vocab_size=1000 if size == "smoke" else 16000)
        langs, steps, batch = "all", (10, 10) if size == "smoke" else (250, 350), 16
        c.optimizer.warmup_steps = 5 if size == "smoke" else 60
        c.eval.update(every=10_000, batch_size=8, rows_per_language=8)
    c.phases = [
        phase("meta", steps[0], batch, dict(mono=dict(languages=["en"], alpha=1.0)), dict(mlm=1.0)),
        phase("xling", steps[1], batch, dict(mono=dict(languages=langs, alpha=0.3)), dict(mlm=1.0)),
    ]
    apply_preset(c, preset)
    c.lock()
    return c


def get_config(arg: str = "base"):
    return build(arg, ARCH, "configs/xlm_meta_base.py")
