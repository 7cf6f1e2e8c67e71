"""TreLM (Li et al.): transfer a trained English encoder to a new language (French here).

Three configs in one file, at each size ('smoke' for tests, 'demo' for minutes here):
- `source` (`smoke_source`, `demo_source`): the English model, MLM on English only, with an
  English-only tokenizer;
- `smoke` / `demo` (the transfer, from `runs/trelm_<size>_source` by default): a French
  tokenizer; the source's blocks and head; the French word table initialised by
  adversarial alignment to the English one (methods/trelm/transfer.py); a TRILayer (a copy of
  the block below the middle); then two phases:
  `transfer`: only the new word table, its output bias and the TRILayer train, on the
  cross-lingual LM (English sentence -> French pieces, re-ordered at the TRILayer) plus
  French MLM; `adapt`: every parameter (but the frozen English table) on French MLM;
- `smoke_scratch` / `demo_scratch`: the same architecture from a random start on the same
  French text for the same number of steps (the baseline TreLM is compared with).

    python -m xlmeta_jax.train --config=configs/trelm.py:demo_source --workdir=runs/trelm_demo_source
    python -m xlmeta_jax.train --config=configs/trelm.py:demo --workdir=runs/trelm_demo
    python -m xlmeta_jax.train --config=configs/trelm.py:demo_scratch --workdir=runs/trelm_demo_scratch

(`--config.transfer.source=DIR` points the transfer at another source run or HF folder.)

'base': XLM-R base transferred from a Hugging Face folder (`--config.transfer.source=HF_DIR`).
"""
from xlmeta_jax.config import apply_preset, base_config, config_arg, phase

TARGET = "fr"
SIZES = {
    # model, sequence and batch; source steps; transfer and adapt steps; vocabularies
    "smoke": dict(model=dict(hidden=32, layers=2, heads=2, mlp=64), seq=64, batch=8, source=12, transfer=10,
                  adapt=10, source_vocab=1000, target_vocab=1000),
    "demo": dict(model=dict(hidden=256, layers=4, heads=4, mlp=1024), seq=128, batch=16, source=400, transfer=150,
                 adapt=150, source_vocab=8000, target_vocab=4000),
    "base": dict(model=dict(hidden=768, layers=12, heads=12, mlp=3072), seq=256, batch=256, source=0,
                 transfer=20_000, adapt=80_000, source_vocab=250_000, target_vocab=50_000),
}
ROLES = ("source", "transfer", "scratch")
# The transfer phase trains the new language's word table and output bias, and the TRILayer.
NEW_PARAMETERS = "word_embeddings/.*|lm_bias|tri_layer/.*"
ALL_BUT_SOURCE_TABLE = "(?!source_word_embeddings$).*"


def get_config(arg: str = "demo"):
    names = {f"{s}_{r}" if r != "transfer" else s: (s, r) for s in SIZES for r in ROLES
             if not (s == "base" and r != "transfer")}
    name, preset = config_arg(arg, {"demo": None, **names}, "configs/trelm.py")
    size, role = names[name]
    s = SIZES[size]
    c = base_config()
    c.model.update(s["model"])
    c.data.seq_len = s["seq"]
    smoke = size == "smoke"
    if smoke:
        c.data.max_docs_per_language = 2000
        c.tokenizer.update(sample_lines=20_000, character_coverage=0.995)
        c.transfer.update(restarts=2, adversarial_steps=50, align_pieces=300, contexts=200)
    if size == "base":  # French Wikipedia through TFDS; the pairs from config.data.corpus_dir
        c.model.update(dtype="bfloat16", remat="full")
        c.mesh.update(data=1, fsdp=-1, tensor=1)
        c.data.mono = "tfds:wikipedia/20230601.{lang}"
        c.tokenizer.sample_lines = 2_000_000
    mono = lambda lang: dict(mono=dict(languages=(lang,), alpha=1.0))  # noqa: E731
    if role == "source":
        c.tokenizer.vocab_size = s["source_vocab"]
        c.phases = [phase("mlm", s["source"], s["batch"], mono("en"), dict(mlm=1.0))]
    else:
        c.tokenizer.vocab_size = s["target_vocab"]
        c.model.tri_layer = True  # the scratch baseline has the same blocks, so it differs only in its start
        if role == "transfer":
            # where the `source` command above writes it; base: a local copy of the HF folder
            c.transfer.source = "hf/xlm-roberta-base" if size == "base" else f"runs/trelm_{size}_source"
            c.phases = [
                phase("transfer", s["transfer"], s["batch"],
                      dict(mono=dict(languages=(TARGET,), alpha=1.0), parallel=dict(languages=(TARGET,), alpha=1.0)),
                      dict(mlm=1.0, trelm_lm=1.0), trainable=NEW_PARAMETERS),
                phase("adapt", s["adapt"], s["batch"], mono(TARGET), dict(mlm=1.0), trainable=ALL_BUT_SOURCE_TABLE),
            ]
        else:
            c.phases = [phase("scratch", s["transfer"] + s["adapt"], s["batch"], mono(TARGET), dict(mlm=1.0))]
    total = sum(p.steps for p in c.phases)
    c.optimizer.warmup_steps = max(total // 10, 1)
    c.log_every = 2 if smoke else max(total // 60, 1)
    c.eval.update(every=max(total // 4, 1), batch_size=8 if smoke else 16, rows_per_language=8 if smoke else 64)
    c.checkpoint.update(every=max(total // 2, 1))
    apply_preset(c, preset)
    c.lock()
    return c
