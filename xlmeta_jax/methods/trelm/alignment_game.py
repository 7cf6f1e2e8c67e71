"""The embedding-alignment game: adversarial alignment of two embedding sets (MUSE, Conneau
et al. 2018), which TreLM's start-up (transfer.py) plays to place a new word table. Not a
training objective: it runs once, before step 0, on static vectors.

A linear map W sends target vectors into the source space; a discriminator learns to
tell mapped target vectors from source vectors, and W learns to fool it. After each
update W is pulled back towards the orthogonal matrices (W <- (1 + beta) W - beta W W^T W):
an isometry cannot collapse the target set onto a few source points, which is the
game's cheapest way to fool a discriminator otherwise.

The game lands in a wrong basin for many starts, so `adversarial_maps` plays several
games at once (one per starting map, vmapped) and the caller keeps the best by an
unsupervised criterion after refinement (transfer.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax


@dataclass(frozen=True)
class GameConfig:
    steps: int = 2000  # mapping updates
    disc_steps: int = 5  # discriminator updates per mapping update
    hidden: int = 256  # discriminator width (two hidden layers, leaky ReLU)
    batch: int = 64
    learning_rate: float = 0.1  # SGD, both players
    beta: float = 0.01  # orthogonalization strength
    smoothing: float = 0.1  # label smoothing of the discriminator's targets
    input_dropout: float = 0.1  # on the discriminator's input


def init_discriminator(rng: jax.Array, dim: int, hidden: int) -> dict:
    k1, k2, k3 = jax.random.split(rng, 3)
    return {"w1": jax.random.normal(k1, (dim, hidden)) / np.sqrt(dim), "b1": jnp.zeros(hidden),
            "w2": jax.random.normal(k2, (hidden, hidden)) / np.sqrt(hidden), "b2": jnp.zeros(hidden),
            "w3": jax.random.normal(k3, (hidden,)) / np.sqrt(hidden), "b3": jnp.zeros(())}


def discriminator(d: dict, x: jax.Array, rng: jax.Array, dropout: float) -> jax.Array:
    """Logit that the rows of x are source vectors (not mapped target ones)."""
    x = x * jax.random.bernoulli(rng, 1 - dropout, x.shape) / (1 - dropout)
    h = jax.nn.leaky_relu(x @ d["w1"] + d["b1"], 0.2)
    h = jax.nn.leaky_relu(h @ d["w2"] + d["b2"], 0.2)
    return h @ d["w3"] + d["b3"]


def _bce(logits: jax.Array, label: float) -> jax.Array:
    return optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, label)).mean()


def discriminator_loss(d: dict, w: jax.Array, src: jax.Array, tgt: jax.Array, rng: jax.Array,
                       cfg: GameConfig) -> jax.Array:
    """Source rows labelled 1 - smoothing, mapped target rows labelled smoothing."""
    r1, r2 = jax.random.split(rng)
    return (_bce(discriminator(d, src, r1, cfg.input_dropout), 1 - cfg.smoothing)
            + _bce(discriminator(d, tgt @ w, r2, cfg.input_dropout), cfg.smoothing))


def mapping_loss(w: jax.Array, d: dict, tgt: jax.Array, rng: jax.Array, cfg: GameConfig) -> jax.Array:
    """The map wins when the discriminator calls mapped target rows 'source'."""
    return _bce(discriminator(d, tgt @ w, rng, cfg.input_dropout), 1 - cfg.smoothing)


def orthogonalize(w: jax.Array, beta: float) -> jax.Array:
    return (1 + beta) * w - beta * w @ w.T @ w


def play(src: jax.Array, tgt: jax.Array, w0: jax.Array, rng: jax.Array, cfg: GameConfig) -> jax.Array:
    """One game from the starting map w0 [dim, dim]; returns the final map (tgt @ W ~ src)."""
    d_rng, rng = jax.random.split(rng)
    d = init_discriminator(d_rng, src.shape[1], cfg.hidden)
    sgd = lambda params, grads: jax.tree.map(lambda p, g: p - cfg.learning_rate * g, params, grads)  # noqa: E731

    def rows(key, x):
        return x[jax.random.randint(key, (cfg.batch,), 0, x.shape[0])]

    def one(carry, key):
        w, d = carry
        keys = jax.random.split(key, cfg.disc_steps + 1)
        for k in keys[:-1]:
            ks, kt, kd = jax.random.split(k, 3)
            d = sgd(d, jax.grad(discriminator_loss)(d, w, rows(ks, src), rows(kt, tgt), kd, cfg))
        kt, kd = jax.random.split(keys[-1])
        w = orthogonalize(sgd(w, jax.grad(mapping_loss)(w, d, rows(kt, tgt), kd, cfg)), cfg.beta)
        return (w, d), None

    (w, _), _ = jax.lax.scan(one, (w0, d), jax.random.split(rng, cfg.steps))
    return w


def starting_maps(dim: int, count: int, seed: int) -> np.ndarray:
    """[count, dim, dim]: the identity (MUSE's start) and count - 1 random rotations."""
    rng = np.random.default_rng(seed)
    rotations = [np.linalg.qr(rng.normal(size=(dim, dim)))[0] for _ in range(count - 1)]
    return np.stack([np.eye(dim)] + rotations)


def adversarial_maps(src, tgt, *, restarts: int, seed: int, cfg: GameConfig = GameConfig()) -> np.ndarray:
    """[restarts, dim, dim] maps W (tgt @ W lands in the source space), one game per start,
    played together. src [n, dim] and tgt [m, dim] need not be paired or equally many."""
    src, tgt = jnp.asarray(src, jnp.float32), jnp.asarray(tgt, jnp.float32)
    if src.shape[1] != tgt.shape[1]:
        raise ValueError(f"source vectors have {src.shape[1]} dimensions, target vectors {tgt.shape[1]}")
    w0 = jnp.asarray(starting_maps(src.shape[1], restarts, seed), jnp.float32)
    games = jax.jit(jax.vmap(lambda w, k: play(src, tgt, w, k, cfg)))
    return np.asarray(games(w0, jax.random.split(jax.random.key(seed), restarts)), np.float64)
