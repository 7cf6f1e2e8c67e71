"""The sentence vector (model/pooling.py `pool`) against a numpy reference."""
import jax.numpy as jnp
import numpy as np

from xlmeta_jax.model.pooling import pool


def np_mean_pool(h, seg):
    """Each row's mean over its pieces: the real slots but the first (<s>) and the last (</s>)."""
    out = np.zeros((h.shape[0], h.shape[2]))
    for b in range(h.shape[0]):
        n = int((seg[b] > 0).sum())
        if n > 2:
            out[b] = h[b, 1:n - 1].mean(0)
    return out


def test_mean_pool_averages_the_pieces_without_s_and_eos():
    """One convention for the contrastive objective and evaluation (eval/encode.py and
    seq_contrast both use this function): rows of every length, a sentence without pieces
    and a padding row give 0."""
    h = np.random.default_rng(4).normal(size=(5, 7, 3))
    seg = np.array([[1] * 7, [1] * 4 + [0] * 3, [1] * 3 + [0] * 4, [1] * 2 + [0] * 5, [0] * 7])
    got = pool(jnp.asarray(h, jnp.float32), jnp.asarray(seg), "mean")
    np.testing.assert_allclose(got, np_mean_pool(h, seg), rtol=1e-5, atol=1e-7)
    assert not np.asarray(got[3:]).any()
