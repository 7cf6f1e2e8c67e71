"""Our Encoder params <-> a Hugging Face `XLMRobertaForMaskedLM` folder.

One table (`TABLE`) pairs every parameter path of `model/encoder.py` with the
state-dict name Hugging Face uses and the transform between the two layouts;
export applies each transform, import applies its inverse, so the two
directions cannot drift apart. Layer rows are templated over `{i}`; the
stacked `layers/...` tree of a scanned encoder (config.model.scan_layers) is
unstacked by `_unstack_layers` for export and stacked back by `stack_layers`
for import, the only two places that know about stacking.

Why the folder looks the way it does (transformers 5.x, checked by
tests/interop/test_hf.py against transformers itself):
- `model.safetensors` in the PyTorch layout (5.x has no Flax models): torch
  `Linear.weight` is [out, in], our kernels are [in, out] (attention ones split
  into [heads, head_dim]). The decoder weight is tied to the word embeddings and
  not stored; the output bias is stored once as `lm_head.bias`: exactly what
  `XLMRobertaForMaskedLM.save_pretrained` writes, so `from_pretrained` reports
  no missing or unexpected keys.
- `sentencepiece.bpe.model` + `tokenizer_config.json` + `special_tokens_map.json`:
  `AutoTokenizer` builds the XLM-R tokenizer from them offline; our id layout
  (data/tokenizer.py) is XLM-R's, so ids agree. No tokenizer.json is needed.
- `config.json` sets `layer_norm_eps` explicitly (the transformers default,
  1e-12, is not XLM-R's 1e-5).

Import reads safetensors with `safetensors.numpy`: no torch needed.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import jax
import numpy as np

from xlmeta_jax.config import UserError
from xlmeta_jax.data import tokenizer as tokenizer_lib
from xlmeta_jax.model.encoder import Encoder, ModelConfig, init_params

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
SPM_FILE = tokenizer_lib.MODEL_FILE  # "sentencepiece.bpe.model"
# What an export folder holds (save_hf writes them; `evaluate --hf` adds eval.json): --overwrite
# replaces only a folder of these, never a run folder or any other folder.
CARD_FILE = "README.md"  # the model card (interop/card.py)
EXPORT_FILES = frozenset({CONFIG_FILE, WEIGHTS_FILE, SPM_FILE, "tokenizer_config.json", "special_tokens_map.json",
                          "eval.json", CARD_FILE})

# ModelConfig fields that are part of the XLM-R architecture (all map onto config.json).
XLMR_MODEL_FIELDS = ("vocab_size", "hidden", "layers", "heads", "mlp", "max_positions", "dropout",
                     "attention_dropout", "layer_norm_eps", "init_std", "dtype")
# ModelConfig fields that change how the model runs, not what it computes: not exported.
EXECUTION_FIELDS = ("remat", "scan_layers", "attention", "dropout_rng")


class InteropError(UserError):
    """A user-fixable interop problem: the message names the file or option and the fix."""


# --------------------------------------------------------------------------------------------
# Transforms: (to_hf, from_hf), each f(array, heads, head_dim, hidden) -> array. Pure
# reshapes/transposes, so a round trip is exact bit for bit.
Transform = tuple[Callable[..., np.ndarray], Callable[..., np.ndarray]]

TRANSFORMS: dict[str, Transform] = {
    # LayerNorm scale/bias, embeddings, plain biases, lm_bias.
    "copy": (lambda x, h, d, e: x, lambda y, h, d, e: y),
    # nn.Dense kernel [in, out] <-> torch Linear weight [out, in].
    "linear": (lambda x, h, d, e: x.T, lambda y, h, d, e: y.T),
    # q/k/v kernel [E, H, D] <-> weight [H*D, E].
    "heads_in": (lambda x, h, d, e: x.reshape(e, h * d).T, lambda y, h, d, e: y.T.reshape(e, h, d)),
    # q/k/v bias [H, D] <-> [H*D].
    "heads_bias": (lambda x, h, d, e: x.reshape(h * d), lambda y, h, d, e: y.reshape(h, d)),
    # attention output kernel [H, D, E] <-> weight [E, H*D].
    "heads_out": (lambda x, h, d, e: x.reshape(h * d, e).T, lambda y, h, d, e: y.T.reshape(h, d, e)),
}


@dataclass(frozen=True)
class Entry:
    ours: str  # path in our param tree, '/'-separated; '{i}' = layer index
    hf: str  # XLMRobertaForMaskedLM state-dict name; '{i}' = layer index
    transform: str  # key of TRANSFORMS


_L = "roberta.encoder.layer.{i}."
# THE mapping table. Everything else in this file derives from it.
TABLE: tuple[Entry, ...] = (
    Entry("word_embeddings/embedding", "roberta.embeddings.word_embeddings.weight", "copy"),
    Entry("position_embeddings/embedding", "roberta.embeddings.position_embeddings.weight", "copy"),
    Entry("token_type_embeddings/embedding", "roberta.embeddings.token_type_embeddings.weight", "copy"),
    Entry("embeddings_norm/scale", "roberta.embeddings.LayerNorm.weight", "copy"),
    Entry("embeddings_norm/bias", "roberta.embeddings.LayerNorm.bias", "copy"),
    Entry("layer_{i}/attention/query/kernel", _L + "attention.self.query.weight", "heads_in"),
    Entry("layer_{i}/attention/query/bias", _L + "attention.self.query.bias", "heads_bias"),
    Entry("layer_{i}/attention/key/kernel", _L + "attention.self.key.weight", "heads_in"),
    Entry("layer_{i}/attention/key/bias", _L + "attention.self.key.bias", "heads_bias"),
    Entry("layer_{i}/attention/value/kernel", _L + "attention.self.value.weight", "heads_in"),
    Entry("layer_{i}/attention/value/bias", _L + "attention.self.value.bias", "heads_bias"),
    Entry("layer_{i}/attention/output/kernel", _L + "attention.output.dense.weight", "heads_out"),
    Entry("layer_{i}/attention/output/bias", _L + "attention.output.dense.bias", "copy"),
    Entry("layer_{i}/attention_norm/scale", _L + "attention.output.LayerNorm.weight", "copy"),
    Entry("layer_{i}/attention_norm/bias", _L + "attention.output.LayerNorm.bias", "copy"),
    Entry("layer_{i}/intermediate/kernel", _L + "intermediate.dense.weight", "linear"),
    Entry("layer_{i}/intermediate/bias", _L + "intermediate.dense.bias", "copy"),
    Entry("layer_{i}/output/kernel", _L + "output.dense.weight", "linear"),
    Entry("layer_{i}/output/bias", _L + "output.dense.bias", "copy"),
    Entry("layer_{i}/output_norm/scale", _L + "output.LayerNorm.weight", "copy"),
    Entry("layer_{i}/output_norm/bias", _L + "output.LayerNorm.bias", "copy"),
    Entry("lm_dense/kernel", "lm_head.dense.weight", "linear"),
    Entry("lm_dense/bias", "lm_head.dense.bias", "copy"),
    Entry("lm_norm/scale", "lm_head.layer_norm.weight", "copy"),
    Entry("lm_norm/bias", "lm_head.layer_norm.bias", "copy"),
    Entry("lm_bias", "lm_head.bias", "copy"),
    # lm_head.decoder.weight is tied to word_embeddings and lm_head.decoder.bias to
    # lm_head.bias: save_pretrained stores neither (see _TIED).
)

# HF names that may appear in other writers' checkpoints: name -> the stored name it must equal.
_TIED = {"lm_head.decoder.weight": "roberta.embeddings.word_embeddings.weight",
         "lm_head.decoder.bias": "lm_head.bias"}
# HF names that XLMRobertaForMaskedLM itself ignores on load (non-persistent buffers of old
# versions; the pooler of checkpoints saved from XLMRobertaModel, e.g. xlm-roberta-base).
_IGNORED = ("roberta.embeddings.position_ids", "roberta.embeddings.token_type_ids",
            "roberta.pooler.dense.weight", "roberta.pooler.dense.bias")


def expand(num_layers: int) -> list[tuple[str, str, str]]:
    """The table with `{i}` filled in: (our path, HF name, transform) rows, in table order."""
    rows = []
    for e in TABLE:
        if "{i}" in e.ours:
            rows.extend((e.ours.format(i=i), e.hf.format(i=i), e.transform) for i in range(num_layers))
        else:
            rows.append((e.ours, e.hf, e.transform))
    return rows


# --------------------------------------------------------------------------------------------
# Model config <-> config.json


def _as_model_config(model_cfg: ModelConfig | Mapping[str, Any], *, drop_extra: bool) -> ModelConfig:
    """Our ModelConfig, refusing (unless drop_extra) options outside the XLM-R architecture."""
    if isinstance(model_cfg, ModelConfig):
        values = dataclasses.asdict(model_cfg)
    else:
        values = dict(model_cfg)
    inert = (() if values.get("prompt_pool") else ("prompt_length", "prompt_top_k")) + \
        (() if values.get("languages") else ("language_vector",))  # details of an off switch
    extra = {k: v for k, v in values.items() if k not in XLMR_MODEL_FIELDS + EXECUTION_FIELDS + inert
             and v not in (None, False, 0, "", [], {}, ())}
    if extra and not drop_extra:
        names = ", ".join(f"config.model.{k}={v!r}" for k, v in sorted(extra.items()))
        raise InteropError(
            f"model option(s) {names} are outside the XLM-R architecture that Hugging Face "
            f"XLMRobertaForMaskedLM implements; export with --drop_extra (drop_extra=True) to write "
            f"the XLM-R part only, or train without these options")
    if values.get("dtype", "float32") not in ("float32", "bfloat16"):
        raise InteropError(f"config.model.dtype={values['dtype']!r}: allowed 'float32', 'bfloat16'")
    missing = [k for k in ("vocab_size", "hidden", "layers", "heads", "mlp") if k not in values]
    if missing:
        raise InteropError(f"model config lacks {missing}; pass a ModelConfig or config.model plus vocab_size")
    return ModelConfig(**{k: values[k] for k in XLMR_MODEL_FIELDS if k in values})


def hf_config(model_cfg: ModelConfig) -> dict:
    """`config.json` of the equivalent XLMRobertaForMaskedLM (XLMRobertaConfig fields)."""
    cfg = _as_model_config(model_cfg, drop_extra=True)
    return {
        "architectures": ["XLMRobertaForMaskedLM"],
        "model_type": "xlm-roberta",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden,
        "num_hidden_layers": cfg.layers,
        "num_attention_heads": cfg.heads,
        "intermediate_size": cfg.mlp,
        "max_position_embeddings": cfg.max_positions,
        "type_vocab_size": 1,
        "layer_norm_eps": cfg.layer_norm_eps,
        "hidden_act": "gelu",  # exact (erf) GELU, as model/encoder.py
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.attention_dropout,
        "initializer_range": cfg.init_std,
        "position_embedding_type": "absolute",
        "pad_token_id": tokenizer_lib.PAD,
        "bos_token_id": tokenizer_lib.BOS,
        "eos_token_id": tokenizer_lib.EOS,
        "tie_word_embeddings": True,
        "is_decoder": False,
        "add_cross_attention": False,
        "dtype": "float32",
    }


def model_config_from_hf(conf: Mapping[str, Any], source: str | Path) -> dict:
    """Our ModelConfig fields (a dict) from an HF config.json; refuses non-XLM-R settings."""
    def need(key: str, ok: Callable[[Any], bool], allowed: str, default: Any = None) -> Any:
        value = conf.get(key, default)
        if not ok(value):
            raise InteropError(f"{source}: {key}={value!r} is outside what xlmeta_jax's encoder implements "
                               f"(allowed: {allowed}); only XLM-R (XLMRobertaForMaskedLM) checkpoints can be imported")
        return value

    need("model_type", lambda v: v == "xlm-roberta", "'xlm-roberta'")
    need("hidden_act", lambda v: v == "gelu", "'gelu'", "gelu")
    need("position_embedding_type", lambda v: v == "absolute", "'absolute'", "absolute")
    need("type_vocab_size", lambda v: v == 1, "1", 2)
    need("pad_token_id", lambda v: v == tokenizer_lib.PAD, str(tokenizer_lib.PAD), 1)
    need("is_decoder", lambda v: not v, "false", False)
    need("add_cross_attention", lambda v: not v, "false", False)
    need("tie_word_embeddings", lambda v: v is not False, "true", True)
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "max_position_embeddings"):
        need(key, lambda v: isinstance(v, int) and v > 0, "a positive integer")
    if conf["hidden_size"] % conf["num_attention_heads"]:
        raise InteropError(f"{source}: hidden_size {conf['hidden_size']} is not divisible by "
                           f"num_attention_heads {conf['num_attention_heads']}")
    return {
        "vocab_size": conf["vocab_size"], "hidden": conf["hidden_size"], "layers": conf["num_hidden_layers"],
        "heads": conf["num_attention_heads"], "mlp": conf["intermediate_size"],
        "max_positions": conf["max_position_embeddings"],
        "dropout": float(conf.get("hidden_dropout_prob", 0.1)),
        "attention_dropout": float(conf.get("attention_probs_dropout_prob", 0.1)),
        "layer_norm_eps": float(conf.get("layer_norm_eps", 1e-12)),  # the transformers default if absent
        "init_std": float(conf.get("initializer_range", 0.02)), "dtype": "float32",
    }


# --------------------------------------------------------------------------------------------
# Param trees


def _flatten(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in tree.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, path + "/"))
        else:
            out[path] = v
    return out


def _unflatten(flat: Mapping[str, Any]) -> dict:
    tree: dict = {}
    for path, v in flat.items():
        node = tree
        *parents, leaf = path.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return tree


def _unstack_layers(flat: dict[str, Any]) -> dict[str, Any]:
    """A scanned tree (`layers/...` leaves with a leading [layers] axis, config.model.scan_layers)
    as per-layer `layer_{i}/...`; the identity on an unscanned tree."""
    out = {}
    for path, v in flat.items():
        if path.startswith("layers/"):
            rest = path[len("layers/"):]
            for i in range(v.shape[0]):
                out[f"layer_{i}/{rest}"] = v[i]
        else:
            out[path] = v
    return out


def stack_layers(params: Mapping, num_layers: int) -> dict:
    """Per-layer `layer_{i}` subtrees -> one `layers` subtree with a leading [layers] axis
    (the layout of a scanned encoder); the inverse of `_unstack_layers`."""
    layers = [params[f"layer_{i}"] for i in range(num_layers)]
    out = {k: v for k, v in params.items() if not k.startswith("layer_")}
    out["layers"] = jax.tree.map(lambda *xs: np.stack(xs), *layers)
    return out


def _dims(cfg: ModelConfig) -> tuple[int, int, int]:
    return cfg.heads, cfg.hidden // cfg.heads, cfg.hidden


def _leaf(x) -> np.ndarray:
    """A host numpy array of a param leaf (jax.Array, np.ndarray, or a flax Partitioned box)."""
    x = getattr(x, "value", x)  # nn.Partitioned / nn.LogicallyPartitioned
    return np.asarray(x)


def as_plain_xlmr(params: Mapping, model_cfg: ModelConfig | Mapping[str, Any]) -> tuple[Mapping, dict]:
    """A TreLM model as the XLM-R it is: its TRILayer is one more block (block layers // 2,
    the blocks above shift up by one), and the source word table, which only reads source
    sentences during the transfer, is left out. Other models pass through unchanged."""
    values = dataclasses.asdict(model_cfg) if isinstance(model_cfg, ModelConfig) else dict(model_cfg)
    if not values.get("tri_layer") and not values.get("source_vocab"):
        return params, values
    k = values["layers"] // 2 if values.get("tri_layer") else values["layers"] + 1
    out = {}
    for name, value in params.items():
        if name.startswith("layer_") and name[6:].isdigit():
            out[f"layer_{int(name[6:]) + (int(name[6:]) >= k)}"] = value
        elif name == "tri_layer":
            out[f"layer_{k}"] = value
        elif name != "source_word_embeddings":
            out[name] = value
    values.update(layers=values["layers"] + bool(values.get("tri_layer")), tri_layer=False, source_vocab=0)
    return out, values


def to_hf_state_dict(params: Mapping, model_cfg: ModelConfig | Mapping[str, Any], *,
                     drop_extra: bool = False) -> dict[str, np.ndarray]:
    """HF `XLMRobertaForMaskedLM` state dict (numpy, C-contiguous) of our params.

    Refuses parameters the table does not cover (e.g. prompts, extra layers) unless
    `drop_extra`, which leaves them out.
    """
    params, model_cfg = as_plain_xlmr(params, model_cfg)
    cfg = _as_model_config(model_cfg, drop_extra=drop_extra)
    h, d, e = _dims(cfg)
    flat = _unstack_layers({p: _leaf(v) for p, v in _flatten(params).items()})
    out, missing = {}, []
    for ours, hf, kind in expand(cfg.layers):
        if ours not in flat:
            missing.append(ours)
            continue
        out[hf] = np.ascontiguousarray(TRANSFORMS[kind][0](flat.pop(ours), h, d, e))
    if missing:
        raise InteropError(f"param tree lacks {missing} for a {cfg.layers}-layer XLM-R encoder; "
                           f"check that the model config (layers={cfg.layers}) matches the checkpoint")
    if flat and not drop_extra:
        tops = sorted({p.split("/")[0] for p in flat})
        raise InteropError(
            f"param tree entries {tops} (leaves {sorted(flat)[:8]}{' ...' if len(flat) > 8 else ''}) are outside "
            f"the XLM-R architecture and have no Hugging Face equivalent; export with --drop_extra "
            f"(drop_extra=True) to leave them out, or export a model trained without them")
    _check_shapes(out, cfg, "our params")
    return out


def _expected_hf_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """HF tensor shapes for `cfg`, from the shapes our encoder would create, through the table."""
    shapes = jax.eval_shape(lambda: init_params(Encoder(cfg), jax.random.key(0)))
    flat = {p: getattr(v, "value", v).shape for p, v in _flatten(shapes).items()}  # unbox Partitioned
    rows = expand(cfg.layers)
    uncovered = set(flat) - {ours for ours, _, _ in rows}
    if uncovered:  # the encoder grew a parameter the table does not know: a bug here, not the user's
        raise AssertionError(f"xlmeta_jax/interop/hf.py TABLE misses encoder params {sorted(uncovered)}")
    h, d, e = _dims(cfg)
    def hf_shape(kind: str, shape: tuple[int, ...]) -> tuple[int, ...]:  # symbolic: no allocation
        return tuple(jax.eval_shape(lambda x: TRANSFORMS[kind][0](x, h, d, e),
                                    jax.ShapeDtypeStruct(shape, np.float32)).shape)

    return {hf: hf_shape(kind, flat[ours]) for ours, hf, kind in rows}


def _check_shapes(state: Mapping[str, np.ndarray], cfg: ModelConfig, source: str) -> None:
    expected = _expected_hf_shapes(cfg)
    bad = [f"{k}: {tuple(v.shape)}, expected {expected[k]}" for k, v in state.items()
           if k in expected and tuple(v.shape) != expected[k]]
    if bad:
        raise InteropError(f"{source}: tensor shapes do not match the model config "
                           f"(hidden={cfg.hidden}, layers={cfg.layers}, heads={cfg.heads}, mlp={cfg.mlp}, "
                           f"vocab_size={cfg.vocab_size}, max_positions={cfg.max_positions}): " + "; ".join(bad))


def from_hf_state_dict(state: Mapping[str, np.ndarray], model_cfg: ModelConfig | Mapping[str, Any], *,
                       source: str | Path = "HF state dict") -> dict:
    """Our param tree from an HF XLMRobertaForMaskedLM state dict (the table's inverse).

    Raises InteropError naming `source` and every missing, unexpected or mis-shaped tensor.
    """
    cfg = _as_model_config(model_cfg, drop_extra=False)
    h, d, e = _dims(cfg)
    rows = expand(cfg.layers)
    names = {hf for _, hf, _ in rows}
    state = dict(state)
    for tied, target in _TIED.items():  # older writers store tied copies: they must agree
        if tied in state:
            t = state.pop(tied)
            if target not in state:
                state[target] = t
            elif not np.array_equal(np.asarray(t), np.asarray(state[target])):
                raise InteropError(f"{source}: {tied} differs from {target}; an untied decoder is not "
                                   f"XLM-R (our decoder is the word embedding matrix) and cannot be imported")
    missing = sorted(names - set(state))
    unexpected = sorted(set(state) - names - set(_IGNORED))
    if missing or unexpected:
        raise InteropError(
            f"{source}: does not hold a {cfg.layers}-layer XLMRobertaForMaskedLM"
            + (f"; missing tensors: {missing[:10]}{' ...' if len(missing) > 10 else ''}" if missing else "")
            + (f"; unexpected tensors: {unexpected[:10]}{' ...' if len(unexpected) > 10 else ''}" if unexpected else "")
            + "; export it with XLMRobertaForMaskedLM.save_pretrained, or check num_hidden_layers in its config.json")
    _check_shapes(state, cfg, str(source))
    flat = {}
    for ours, hf, kind in rows:
        a = np.asarray(state[hf])
        if a.dtype != np.float32:
            a = a.astype(np.float32)
        flat[ours] = np.ascontiguousarray(TRANSFORMS[kind][1](a, h, d, e))
    return _unflatten(flat)


# --------------------------------------------------------------------------------------------
# Folders


def _tokenizer_files(model_max_length: int) -> dict[str, dict]:
    mask = {"content": "<mask>", "lstrip": True, "normalized": False, "rstrip": False, "single_word": False,
            "special": True}
    special = {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "mask_token": mask,
               "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>"}
    config = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": model_max_length,
              **{k: v for k, v in special.items() if k != "mask_token"},
              "mask_token": {"__type": "AddedToken", **mask}}
    return {"tokenizer_config.json": config, "special_tokens_map.json": special}


def _check_spm(spm_path: Path, vocab_size: int, what: str) -> None:
    if not spm_path.is_file():
        raise InteropError(f"{spm_path}: no sentencepiece model; {what}")
    import sentencepiece as spm
    try:
        pieces = spm.SentencePieceProcessor(model_proto=spm_path.read_bytes()).get_piece_size()
    except Exception as err:  # noqa: BLE001 - sentencepiece raises plain RuntimeError/OSError
        raise InteropError(f"{spm_path}: not a sentencepiece model ({err}); {what}") from err
    if pieces + 2 != vocab_size:
        raise InteropError(f"{spm_path}: {pieces} pieces give {pieces + 2} ids with <pad> and <mask>, but the "
                           f"model has vocab_size {vocab_size}; use the tokenizer the model was trained with")


def save_hf(out_dir: str | Path, params: Mapping, model_cfg: ModelConfig | Mapping[str, Any],
            sentencepiece_model_path: str | Path, *, drop_extra: bool = False, overwrite: bool = False,
            card: str | None = None) -> Path:
    """Writes an HF XLM-R folder that `XLMRobertaForMaskedLM/AutoTokenizer.from_pretrained` load offline.

    Written into a temporary sibling folder and renamed into place, so a crash never leaves
    a half-written export. An existing non-empty `out_dir` is refused unless `overwrite`
    (then replaced as a whole, after the new folder is complete). `card`: README.md's text.
    """
    from safetensors.numpy import save_file

    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and not out_dir.is_dir():
        raise InteropError(f"{out_dir}: exists and is not a folder; choose another --out")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise InteropError(f"{out_dir}: exists and is not empty; choose another --out, remove it, "
                               f"or pass --overwrite (overwrite=True) to replace it")
        others = sorted(p.name for p in out_dir.iterdir() if p.name not in EXPORT_FILES or not p.is_file())
        if others:
            raise InteropError(f"{out_dir}: --overwrite replaces only a previous export, and this folder also "
                               f"holds {others[:5]}; choose another --out (nothing was removed)")
    params, model_cfg = as_plain_xlmr(params, model_cfg)
    cfg = _as_model_config(model_cfg, drop_extra=drop_extra)
    state = to_hf_state_dict(params, cfg, drop_extra=drop_extra)
    spm_path = Path(sentencepiece_model_path)
    _check_spm(spm_path, cfg.vocab_size, "pass the run's tokenizer/sentencepiece.bpe.model")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    old = None
    try:
        (tmp / CONFIG_FILE).write_text(json.dumps(hf_config(cfg), indent=2, sort_keys=True) + "\n")
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
        shutil.copyfile(spm_path, tmp / SPM_FILE)
        for name, content in _tokenizer_files(cfg.max_positions - 2).items():
            (tmp / name).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
        if card is not None:
            (tmp / CARD_FILE).write_text(card, encoding="utf-8")
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            out_dir.rename(old)
        tmp.rename(out_dir)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not out_dir.exists():
            old.rename(out_dir)  # put the previous export back
        raise
    return out_dir


def _read_weights(hf_dir: Path) -> tuple[dict[str, np.ndarray], Path]:
    from safetensors.numpy import load_file

    single, index = hf_dir / WEIGHTS_FILE, hf_dir / WEIGHTS_INDEX_FILE
    if single.is_file():
        try:
            return load_file(str(single)), single
        except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
            raise InteropError(f"{single}: cannot read ({err}); re-export the folder") from err
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        state: dict[str, np.ndarray] = {}
        for shard in shards:
            state.update(load_file(str(hf_dir / shard)))
        return state, index
    if (hf_dir / "pytorch_model.bin").is_file():
        raise InteropError(f"{hf_dir / 'pytorch_model.bin'}: only safetensors can be imported (no torch needed); "
                           f"convert once with transformers: XLMRobertaForMaskedLM.from_pretrained(DIR)"
                           f".save_pretrained(NEW_DIR)")
    raise InteropError(f"{single}: missing; an HF folder needs {WEIGHTS_FILE} (or {WEIGHTS_INDEX_FILE})")


def load_hf(hf_dir: str | Path) -> tuple[dict, dict, Path]:
    """(params, model config fields, sentencepiece model path) of an HF XLM-R folder.

    The model config dict has our ModelConfig fields (vocab_size included):
    `ModelConfig(**cfg)` builds the matching encoder.
    """
    hf_dir = Path(hf_dir).absolute()
    if not hf_dir.is_dir():
        raise InteropError(f"{hf_dir}: no such folder; give a local Hugging Face XLM-R folder "
                           f"(config.json, model.safetensors, sentencepiece.bpe.model)")
    conf_path = hf_dir / CONFIG_FILE
    if not conf_path.is_file():
        raise InteropError(f"{conf_path}: missing; not a Hugging Face model folder")
    try:
        conf = json.loads(conf_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InteropError(f"{conf_path}: not valid JSON ({err})") from err
    model_cfg = model_config_from_hf(conf, conf_path)
    spm_path = hf_dir / SPM_FILE
    _check_spm(spm_path, model_cfg["vocab_size"],
               "XLM-R folders ship it (copy it from the original model folder); a tokenizer.json alone is not enough")
    state, source = _read_weights(hf_dir)
    params = from_hf_state_dict(state, model_cfg, source=source)
    return params, model_cfg, spm_path


# Architecture fields an imported checkpoint must share with the run (dropout and init_std
# are training settings the run may change): our key -> config.json key.
_MUST_MATCH = {"vocab_size": "vocab_size", "hidden": "hidden_size", "layers": "num_hidden_layers",
               "heads": "num_attention_heads", "mlp": "intermediate_size",
               "max_positions": "max_position_embeddings", "layer_norm_eps": "layer_norm_eps"}


def params_for_run(hf_dir: str | Path, model_cfg: ModelConfig) -> tuple[dict, Path]:
    """(params, sentencepiece path) of an HF folder, checked against the run's model config.

    For `config.init.from_hf`: the run must declare the checkpoint's architecture; a
    mismatch names the config key and the value to set.
    """
    params, hf_cfg, spm_path = load_hf(hf_dir)
    conf_path = Path(hf_dir).absolute() / CONFIG_FILE
    bad = [f"config.model.{k}={getattr(model_cfg, k)!r} but {conf_path} has {hf_key}={hf_cfg[k]!r}"
           for k, hf_key in _MUST_MATCH.items() if k != "vocab_size" and getattr(model_cfg, k) != hf_cfg[k]]
    if bad:
        raise InteropError("config.init.from_hf: the run's model differs from the checkpoint: " + "; ".join(bad)
                           + "; set these config.model values to the checkpoint's")
    if model_cfg.vocab_size != hf_cfg["vocab_size"]:
        raise InteropError(f"config.init.from_hf: the run's tokenizer gives vocab_size {model_cfg.vocab_size} but "
                           f"{conf_path} has vocab_size={hf_cfg['vocab_size']}; the run must use {spm_path} "
                           f"(copy it to WORKDIR/tokenizer/ before the first step, or use a new --workdir)")
    if model_cfg.scan_layers:
        params = stack_layers(params, model_cfg.layers)
    return params, spm_path
