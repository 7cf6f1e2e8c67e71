"""The XLM-R encoder (RoBERTa architecture) in Flax linen.

Post-LayerNorm blocks, exact GELU, learned absolute positions that start at
padding_idx + 1 = 2, a single token type, and the MLM head (dense, GELU,
LayerNorm, decoder tied to the word embeddings, output bias). Every parameter
and activation names its logical axes (activations use `act_*` names so that
FSDP can shard a parameter's `embed` axis while activations stay whole there); `config.logical_axis_rules` decides how
they map onto the mesh. Attention is restricted to tokens of the same segment
(packed documents never see each other). The vocabulary projection runs only
at the prediction slots (fairseq's trick): for a small model it is most of the
FLOPs and memory.
"""
from __future__ import annotations

import functools
import math

from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp

from xlmeta_jax.methods.xlmp.prompts import PromptPool

Array = jax.Array
# XLM-R's id layout (data/tokenizer.py builds it; the model sits below data/): ids below this
# are <s> <pad> </s> <unk>, and the last id is <mask>.
FIRST_PIECE = 4


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    mlp: int = 1024
    max_positions: int = 514
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-5
    init_std: float = 0.02
    dtype: str = "float32"
    remat: str = "none"  # recompute in the backward pass: 'none', 'dots' (keep matmul outputs), 'full'
    scan_layers: bool = False  # one scanned layer (stacked params): compile time independent of depth
    attention: str = "explicit"  # 'fused': jax.nn.dot_product_attention (needs attention_dropout 0)
    dropout_rng: str = "hash"  # bits of dropout masks: 'hash' (counter-based, fast) or 'threefry' (jax.random)
    languages: int = 0  # > 0: learned language embeddings added to the input (XLM's TLM); XLM-R has none
    prompt_pool: int = 0  # XLM-P: number of prompts in the pool (0 = off)
    prompt_length: int = 4  # vectors per prompt
    prompt_top_k: int = 2  # prompts prepended per instance
    separate_embeddings: bool = False  # one word-embedding table (and tied decoder) per language
    shared_specials: bool = False  # with separate_embeddings: <s> <pad> </s> <unk> <mask> share language 0's rows
    language_vector: bool = True  # with languages > 0: add a learned vector per language to every token
    language_layers: int = 0  # the bottom blocks that are per language (0 = every block shared)
    tri_layer: bool = False  # TreLM: one more block, `tri_layer`, run before block layers // 2
    source_vocab: int = 0  # TreLM: > 0 adds `source_word_embeddings` for the source language's pieces

    @classmethod
    def from_config(cls, model_cfg, vocab_size: int) -> "ModelConfig":
        return cls(vocab_size=vocab_size, **model_cfg.to_dict())


@jax.custom_vjp
def bias_add(x: Array, bias: Array) -> Array:
    """x + bias over x's trailing axes, whose bias gradient is a matmul (ones @ dy) rather
    than autodiff's column sum: XLA on CPU reduces over the leading axis of the decoder's
    [slots, vocab] gradient several times slower than it multiplies. (For the layers'
    biases, [tokens, 256..1024], the column sum is the faster: benchmarks/README.md.)"""
    return x + bias


def _bias_add_fwd(x: Array, bias: Array):
    # empty arrays: they carry the shapes and dtypes the gradients need, no data
    return x + bias, (jnp.zeros((0,), x.dtype), jnp.zeros((0,) + bias.shape, bias.dtype))


def _bias_add_bwd(like: tuple[Array, Array], dy: Array):
    x_like, bias_like = like
    shape = bias_like.shape[1:]
    rows = dy.reshape(-1, math.prod(shape))
    d_bias = jnp.ones((1, rows.shape[0]), rows.dtype) @ rows
    return dy.astype(x_like.dtype), d_bias.reshape(shape).astype(bias_like.dtype)


bias_add.defvjp(_bias_add_fwd, _bias_add_bwd)


@jax.custom_vjp
def tied_decoder(h: Array, table: Array) -> Array:
    """Logits h @ table.T over the vocabulary, with the two gradient products written out
    (dlogits @ table and dlogits.T @ h). Alternating runs of the bench step measured it 1-5%
    faster than autodiff's form, inside the drift (benchmarks/README.md)."""
    return h @ table.T


def _tied_decoder_fwd(h: Array, table: Array):
    return h @ table.T, (h, table)


def _tied_decoder_bwd(res: tuple[Array, Array], d: Array):
    h, table = res
    rows = d.reshape(-1, table.shape[0])
    dh = rows @ table
    d_table = jax.lax.dot_general(rows, h.reshape(-1, table.shape[1]), (((0,), (0,)), ((), ())))
    return dh.reshape(h.shape).astype(h.dtype), d_table.astype(table.dtype)


tied_decoder.defvjp(_tied_decoder_fwd, _tied_decoder_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def contract(x: Array, kernel: Array, n_in: int) -> Array:
    """x's last `n_in` axes contracted with the kernel's first `n_in` axes, whose kernel
    gradient is one plain [K, tokens] x [tokens, F] matmul. Autodiff's form contracts both
    operands over their leading (token) axis; XLA on CPU transposes one operand and hands
    the product to a slow generic kernel: a feed-forward block's forward and backward take
    twice the time (benchmarks/README.md)."""
    return jax.lax.dot_general(x, kernel, ((tuple(range(x.ndim - n_in, x.ndim)), tuple(range(n_in))), ((), ())))


def _contract_fwd(x: Array, kernel: Array, n_in: int):
    return contract(x, kernel, n_in), (x, kernel)


def _contract_bwd(n_in: int, res: tuple[Array, Array], dy: Array):
    x, kernel = res
    k, f = math.prod(kernel.shape[:n_in]), math.prod(kernel.shape[n_in:])
    rows, d_rows, w = x.reshape(-1, k), dy.reshape(-1, f), kernel.reshape(k, f)
    dx = jax.lax.dot_general(d_rows, w, (((1,), (1,)), ((), ())))
    # Transpose the smaller operand into a buffer of its own; the barriers keep XLA from
    # folding a transpose back into the matmul (as (a @ b).T = b.T @ a.T it would move the
    # final one inside too), which would send it to the generic kernel at half the speed.
    if k <= f:
        dw = jax.lax.optimization_barrier(rows.T) @ d_rows
    else:
        dw = jax.lax.optimization_barrier(jax.lax.optimization_barrier(d_rows.T) @ rows).T
    return dx.reshape(x.shape).astype(x.dtype), dw.reshape(kernel.shape).astype(kernel.dtype)


contract.defvjp(_contract_fwd, _contract_bwd)


class Dense(nn.Module):
    """x @ kernel + bias, contracting the last `n_in` axes of x into `features`.

    Like nn.DenseGeneral, but the kernel is created in its full shape, so its
    logical-axis annotation applies to the array as it is (DenseGeneral initialises
    a flattened kernel, which a sharding constraint of higher rank rejects).
    """
    features: tuple[int, ...]
    axes: tuple[str, ...]  # logical names of the kernel's axes: inputs then features
    n_in: int = 1
    init_std: float = 0.02
    dtype: str = "float32"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        in_shape = x.shape[-self.n_in:]
        kernel = self.param("kernel", nn.with_logical_partitioning(nn.initializers.normal(self.init_std), self.axes),
                            in_shape + self.features)
        bias = self.param("bias", nn.with_logical_partitioning(nn.initializers.zeros, self.axes[self.n_in:]),
                          self.features)
        return contract(x.astype(self.dtype), kernel.astype(self.dtype), self.n_in) + bias.astype(self.dtype)


def _dense(features: int | tuple[int, ...], axes: tuple[str, ...], cfg: ModelConfig, name: str,
           n_in: int = 1) -> Dense:
    features = features if isinstance(features, tuple) else (features,)
    return Dense(features, axes, n_in, cfg.init_std, cfg.dtype, name=name)


def _layer_norm(cfg: ModelConfig, name: str) -> nn.LayerNorm:
    return nn.LayerNorm(epsilon=cfg.layer_norm_eps, dtype=cfg.dtype, name=name,
                        scale_init=nn.with_logical_partitioning(nn.initializers.ones, ("embed",)),
                        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, ("embed",)))


def _constrain(x: Array, axes: tuple[str | None, ...]) -> Array:
    return nn.with_logical_constraint(x, axes)


def _mix32(x: Array) -> Array:
    """MurmurHash3's 32-bit finaliser: every output bit depends on every input bit."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def hashed_bits(key: Array, shape: tuple[int, ...]) -> Array:
    """uint32 [shape] random bits: a counter-based hash of each element's index, keyed by two
    words drawn from `key`. About ten integer ops per element, computed where the mask is
    used (nothing is materialised), and the same bits under any sharding (each device
    hashes the global indices of its shard). The leading axis is hashed apart from the rest,
    so arrays of more than 2^32 elements do not repeat."""
    seeds = jax.random.bits(key, (2,), jnp.uint32)
    lead = jax.lax.broadcasted_iota(jnp.uint32, shape, 0)
    rest = jnp.zeros(shape, jnp.uint32)
    stride = 1
    for axis in reversed(range(1, len(shape))):
        rest = rest + jax.lax.broadcasted_iota(jnp.uint32, shape, axis) * jnp.uint32(stride)
        stride *= shape[axis]
    return _mix32(_mix32(lead ^ seeds[0]) + rest * jnp.uint32(0x9E3779B9) + seeds[1])


class Dropout(nn.Module):
    """Inverted dropout with cheaper random bits than nn.Dropout's (threefry bits for the
    dropout masks are ~15% of a CPU step): `rng='hash'` (default) draws them from
    `hashed_bits`; 'threefry' from jax.random (16-bit draws, half the words of
    nn.Dropout's). Both are keyed by the module's dropout rng, so a run is reproducible. The
    rate is exact to 2^-32 ('hash') or 2^-16 ('threefry'); kept values are scaled by the
    exact inverse of the keep probability."""
    rate: float
    rng: str = "hash"

    @nn.compact
    def __call__(self, x: Array, deterministic: bool) -> Array:
        if deterministic or self.rate == 0:
            return x
        key = self.make_rng("dropout")
        if self.rng == "hash":
            cut = min(round(self.rate * 2.0 ** 32), 2 ** 32 - 1)
            keep = hashed_bits(key, x.shape) >= jnp.uint32(cut)
            scale = 2.0 ** 32 / (2.0 ** 32 - cut)
        else:
            cut = round(self.rate * 65536)
            words = jax.random.bits(key, ((x.size + 1) // 2,), jnp.uint32)
            keep = jax.lax.bitcast_convert_type(words, jnp.uint16).reshape(-1)[:x.size].reshape(x.shape) >= cut
            scale = 65536 / (65536 - cut)
        return jnp.where(keep, x * scale, 0).astype(x.dtype)


def gelu(x: Array) -> Array:
    return jax.nn.gelu(x, approximate=False)  # XLM-R uses the exact (erf) GELU


class SelfAttention(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, x: Array, bias: Array, deterministic: bool) -> Array:
        cfg = self.cfg
        head_dim = cfg.hidden // cfg.heads
        proj = lambda name: _dense((cfg.heads, head_dim), ("embed", "heads", "kv"), cfg, name)  # noqa: E731
        q, k, v = (proj(n)(x) for n in ("query", "key", "value"))
        q = _constrain(q, ("batch", "length", "act_heads", "kv"))
        if cfg.attention == "fused":  # the backend's fused kernel (cuDNN/TPU flash); no dropout on probabilities
            ctx = jax.nn.dot_product_attention(q, k, v, bias=bias.astype(q.dtype))
        else:
            scores = jnp.einsum("bqhd,bkhd->bhqk", q / jnp.sqrt(head_dim).astype(q.dtype), k) + bias
            probs = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(cfg.dtype)
            probs = Dropout(cfg.attention_dropout, cfg.dropout_rng)(probs, deterministic=deterministic)
            ctx = jnp.einsum("bhqk,bkhd->bqhd", probs, v)
        out = _dense(cfg.hidden, ("heads", "kv", "embed"), cfg, "output", n_in=2)(ctx)
        return _constrain(out, ("batch", "length", "act_embed"))


class Layer(nn.Module):
    """One post-LayerNorm transformer block, as in BERT/RoBERTa/XLM-R.

    Returns (x, x): the (carry, per-layer output) pair nn.scan wants, also when not scanned."""
    cfg: ModelConfig

    @nn.compact
    def __call__(self, x: Array, bias: Array, deterministic: bool) -> tuple[Array, None]:
        cfg = self.cfg
        drop = Dropout(cfg.dropout, cfg.dropout_rng)
        h = SelfAttention(cfg, name="attention")(x, bias, deterministic)
        x = _layer_norm(cfg, "attention_norm")(x + drop(h, deterministic=deterministic))
        h = gelu(_dense(cfg.mlp, ("embed", "mlp"), cfg, "intermediate")(x))
        h = _constrain(h, ("batch", "length", "act_mlp"))
        h = _dense(cfg.hidden, ("mlp", "embed"), cfg, "output")(h)
        x = _layer_norm(cfg, "output_norm")(x + drop(h, deterministic=deterministic))
        x = _constrain(x, ("batch", "length", "act_embed"))
        return x, x


def attention_bias(segment_ids: Array, dtype) -> Array:
    """[B, 1, T, T] additive mask: a token sees its own segment (packed documents stay
    apart); segment 0 is padding; segment -1 marks prompts, which see and are seen by
    every real token of the row."""
    q, k = segment_ids[:, :, None], segment_ids[:, None, :]
    allowed = ((q == k) & (k > 0)) | ((k == -1) & (q != 0)) | ((q == -1) & (k != 0))
    return jnp.where(allowed, 0.0, jnp.finfo(dtype).min).astype(dtype)[:, None]


REMAT_POLICIES = {"dots": jax.checkpoint_policies.checkpoint_dots, "full": None}


def per_language(block: type[nn.Module], languages: int) -> type[nn.Module]:
    """`block` with one parameter copy per language (leading [languages] axis); every copy runs
    on the whole input and returns [languages, ...]: `route` then keeps each token's own."""
    return nn.vmap(block, variable_axes={"params": 0}, split_rngs={"params": True, "dropout": True},
                   in_axes=(None, None, None), out_axes=0, axis_size=languages,
                   metadata_params={nn.PARTITION_NAME: "languages"})


def route(per_lang: Array, token_langs: Array) -> Array:
    """[L, B, T, E] outputs of per-language copies -> [B, T, E], token t taking its language's.
    All L copies are computed (L x the cost of a shared block): simple, and cheap for the
    two or three languages of an ablation."""
    return jnp.einsum("lbte,btl->bte", per_lang, jax.nn.one_hot(token_langs, per_lang.shape[0], dtype=per_lang.dtype))


def block_type(cfg: ModelConfig) -> type[nn.Module]:
    """Layer, rematerialized when cfg.remat asks for it."""
    if cfg.remat == "none":
        return Layer
    return nn.remat(Layer, policy=REMAT_POLICIES[cfg.remat], static_argnums=(3,))


def layer_stack(cfg: ModelConfig) -> list[nn.Module]:
    """The encoder's blocks: per-layer modules `layer_i` (the bottom `language_layers` of them
    per language), or one scanned `layers` module whose params carry a leading [layers] axis;
    optionally rematerialized."""
    block = block_type(cfg)
    if not cfg.scan_layers:
        own = per_language(block, cfg.languages) if cfg.language_layers else None
        return [(own if i < cfg.language_layers else block)(cfg, name=f"layer_{i}") for i in range(cfg.layers)]
    scanned = nn.scan(block, variable_axes={"params": 0}, split_rngs={"params": True, "dropout": True},
                      in_axes=(nn.broadcast, nn.broadcast), length=cfg.layers,
                      metadata_params={nn.PARTITION_NAME: "layers"})
    return [scanned(cfg, name="layers")]


class Encoder(nn.Module):
    """XLM-R masked LM. `__call__` returns the final hidden states and, when
    prediction slots are given, the vocabulary logits at those slots."""
    cfg: ModelConfig

    def setup(self):
        cfg = self.cfg
        emb_init = nn.initializers.normal(cfg.init_std)
        if cfg.separate_embeddings:
            self.language_word_embeddings = self.param(
                "language_word_embeddings", nn.with_logical_partitioning(emb_init, ("languages", "vocab", "embed")),
                (cfg.languages, cfg.vocab_size, cfg.hidden))
        else:
            self.word_embeddings = nn.Embed(
                cfg.vocab_size, cfg.hidden, dtype=cfg.dtype,
                embedding_init=nn.with_logical_partitioning(emb_init, ("vocab", "embed")))
        if cfg.source_vocab:  # a bare param, created at init although only cross_lingual reads it
            self.source_word_embeddings = self.param(
                "source_word_embeddings", nn.with_logical_partitioning(emb_init, ("vocab", "embed")),
                (cfg.source_vocab, cfg.hidden))
        self.position_embeddings = nn.Embed(
            cfg.max_positions, cfg.hidden, dtype=cfg.dtype,
            embedding_init=nn.with_logical_partitioning(emb_init, ("positions", "embed")))
        self.token_type_embeddings = nn.Embed(
            1, cfg.hidden, dtype=cfg.dtype,
            embedding_init=nn.with_logical_partitioning(emb_init, (None, "embed")))
        if cfg.languages and cfg.language_vector:
            self.language_embeddings = nn.Embed(
                cfg.languages, cfg.hidden, dtype=cfg.dtype,
                embedding_init=nn.with_logical_partitioning(emb_init, (None, "embed")))
        if cfg.prompt_pool:
            self.prompt_pool = PromptPool(cfg.prompt_pool, cfg.prompt_length, cfg.prompt_top_k, cfg.hidden,
                                          cfg.init_std)
        self.embeddings_norm = _layer_norm(cfg, "embeddings_norm")
        self.dropout = Dropout(cfg.dropout, cfg.dropout_rng)
        self.blocks = layer_stack(cfg)
        if cfg.tri_layer:
            self.tri_layer = block_type(cfg)(cfg, name="tri_layer")
        self.lm_dense = _dense(cfg.hidden, ("embed", "embed_out"), cfg, "lm_dense")
        self.lm_norm = _layer_norm(cfg, "lm_norm")
        self.lm_bias = self.param("lm_bias", nn.with_logical_partitioning(nn.initializers.zeros, ("vocab",)),
                                  (cfg.vocab_size,))

    @property
    def tri_position(self) -> int:
        """Index of the block the TRILayer runs before (TreLM: the middle of the stack)."""
        return self.cfg.layers // 2 if self.cfg.tri_layer else self.cfg.layers + 1

    def embed(self, words: Array, positions: Array, token_langs: Array, deterministic: bool) -> Array:
        cfg = self.cfg
        x = words + self.position_embeddings(positions) + self.token_type_embeddings(jnp.zeros_like(positions))
        if cfg.languages and cfg.language_vector:
            x = x + self.language_embeddings(token_langs)
        return self.dropout(self.embeddings_norm(x), deterministic=deterministic)

    def run_blocks(self, x: Array, bias: Array, token_langs: Array, start: int, stop: int, deterministic: bool,
                   outputs: list[Array]) -> Array:
        """Blocks start..stop-1 (the TRILayer, when present, before block `tri_position`);
        appends each block's output to `outputs`."""
        cfg = self.cfg
        for i in range(start, stop):
            if i == self.tri_position:
                x, _ = self.tri_layer(x, bias, deterministic)
                outputs.append(x)
            x, ys = self.blocks[i](x, bias, deterministic)
            if i < cfg.language_layers:
                x = ys = route(x, token_langs)
            outputs.extend(ys if cfg.scan_layers else [ys])
        return x

    def encode(self, tokens: Array, positions: Array, segment_ids: Array, *, deterministic: bool,
               token_langs: Array | None = None, layer: int | str | None = None) -> Array:
        """Hidden states [batch, length, hidden] after `layer` (None: the last; 0: the
        embeddings; negative: from the end; "all": every one, [blocks + 1, batch, length,
        hidden]). `token_langs` [batch, length] are language ids, used only when the model has
        language embeddings."""
        cfg = self.cfg
        token_langs = token_langs if token_langs is not None else jnp.zeros_like(tokens)
        words = self.words(tokens, token_langs)
        x = self.embed(words, positions, token_langs, deterministic)
        n_prompt = 0
        if cfg.prompt_pool:
            prompts = self.prompt_pool(words, segment_ids)["prompts"]
            n_prompt = prompts.shape[1]
            x = jnp.concatenate([prompts, x], axis=1)
            segment_ids = jnp.concatenate([jnp.full(prompts.shape[:2], -1, segment_ids.dtype), segment_ids], 1)
        x = _constrain(x, ("batch", "length", "act_embed"))
        outputs = [x]
        x = self.run_blocks(x, attention_bias(segment_ids, cfg.dtype), token_langs, 0, len(self.blocks),
                            deterministic, outputs)
        if layer == "all":
            return jnp.stack(outputs)[:, :, n_prompt:]
        return (x if layer is None else outputs[layer])[:, n_prompt:]

    def cross_lingual(self, source: dict[str, Array], order: Array, positions: Array, segment_ids: Array, *,
                      deterministic: bool) -> Array:
        """TreLM's cross-lingual LM: vocabulary logits [batch, length, vocab] for the target
        sentence, read from the source sentence. The source (`tokens`, `positions`,
        `segment_ids` in the source vocabulary) runs through the blocks below the TRILayer;
        its states are then gathered into the target's order and length (`order` [batch,
        length]: for each target slot, the source slot it reads), given the target's
        positions, and run through the TRILayer and the blocks above it."""
        cfg = self.cfg
        token_langs = jnp.zeros_like(source["tokens"])
        words = self.source_word_embeddings.astype(cfg.dtype)[source["tokens"]]
        x = self.embed(words, source["positions"], token_langs, deterministic)
        x = self.run_blocks(x, attention_bias(source["segment_ids"], cfg.dtype), token_langs, 0, self.tri_position,
                            deterministic, [])
        x = jnp.take_along_axis(x, order[..., None], axis=1) + self.position_embeddings(positions)
        x = self.run_blocks(x, attention_bias(segment_ids, cfg.dtype), token_langs, self.tri_position, cfg.layers,
                            deterministic, [])
        return self.mlm_logits(x)

    def language_tables(self) -> Array:
        """[languages, vocab, hidden] word tables of separate_embeddings. With shared_specials
        every language reads the special tokens' rows of language 0 (Dufter & Schuetze 2020 found
        shared special tokens necessary for multilinguality without shared pieces); the other
        languages' rows for them get no gradient and are never read."""
        tables = self.language_word_embeddings.astype(self.cfg.dtype)
        if not self.cfg.shared_specials:
            return tables
        ids = jnp.arange(self.cfg.vocab_size)
        special = (ids < FIRST_PIECE) | (ids == self.cfg.vocab_size - 1)  # <mask> is the last id
        return jnp.where(special[None, :, None], tables[:1], tables)

    def words(self, tokens: Array, token_langs: Array) -> Array:
        """Word embeddings; with separate_embeddings, from each token's language's table."""
        if self.cfg.separate_embeddings:
            # An id past the vocabulary is a token of another language's table (a random
            # replacement with masking.random_across_languages): table (lang + id // V) mod L.
            v, n = self.cfg.vocab_size, self.cfg.languages
            return self.language_tables()[(token_langs + tokens // v) % n, tokens % v]
        return self.word_embeddings(tokens)

    def prompt_match(self, tokens: Array, segment_ids: Array) -> dict[str, Array]:
        """XLM-P retrieval for a batch: chosen prompt ids and the key-query matching loss."""
        return self.prompt_pool(self.word_embeddings(tokens), segment_ids)

    def mlm_logits(self, hidden: Array, slot_langs: Array | None = None) -> Array:
        """The MLM head on [..., hidden] states; decoder weights are the word embeddings (with
        separate_embeddings: the table of each slot's language, `slot_langs` [...])."""
        h = self.lm_norm(gelu(self.lm_dense(hidden)))
        if not self.cfg.separate_embeddings:
            return bias_add(tied_decoder(h, self.word_embeddings.embedding.astype(h.dtype)), self.lm_bias)
        tables = self.language_tables()
        every = jnp.einsum("...e,lve->...lv", h, tables)  # each language's decoder, then pick
        slot_langs = jnp.zeros(h.shape[:-1], jnp.int32) if slot_langs is None else slot_langs
        pick = jax.nn.one_hot(slot_langs, tables.shape[0], dtype=every.dtype)
        return bias_add(jnp.einsum("...lv,...l->...v", every, pick), self.lm_bias)

    def __call__(self, tokens: Array, positions: Array, segment_ids: Array, *, token_langs: Array | None = None,
                 mlm_positions: Array | None = None, deterministic: bool = True) -> dict[str, Array]:
        hidden = self.encode(tokens, positions, segment_ids, deterministic=deterministic, token_langs=token_langs)
        out = {"hidden": hidden}
        if mlm_positions is not None:
            picked = jnp.take_along_axis(hidden, mlm_positions[..., None], axis=1)
            slot_langs = None if token_langs is None else jnp.take_along_axis(token_langs, mlm_positions, axis=1)
            out["mlm_logits"] = self.mlm_logits(picked, slot_langs)
        return out


def init_params(model: Encoder, key: Array, *, seq_len: int = 8, num_predictions: int = 1) -> dict:
    """The model's parameters drawn from `key`, boxed with their logical axes (nn.unbox gives
    the arrays). The one initialiser: training's step 0 (training/step.py), the evaluation floor
    (eval/encode.py) and the export's shape table (interop/hf.py) all draw through it, so the
    floor is the run's very first weights. The dummy batch's shape changes no draw (flax keys
    each parameter by its path); a caller passes its own shapes only to trace what it will run."""
    tokens = jnp.zeros((1, seq_len), jnp.int32)
    return model.init(key, tokens, tokens + 2, tokens + 1,  # positions from 2, one segment
                      mlm_positions=jnp.zeros((1, num_predictions), jnp.int32))["params"]
