"""CKA, Procrustes, CSLS and top-k accuracy against their definitions."""
import numpy as np
import pytest

from xlmeta_jax.eval import alignment


def random_orthogonal(rng, d):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def test_linear_cka_matches_hsic_definition():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 8)), rng.normal(size=(50, 5))
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n  # centering matrix
    hsic = lambda k, l: np.trace(k @ h @ l @ h)  # noqa: E731
    k, l = x @ x.T, y @ y.T
    assert alignment.linear_cka(x, y) == pytest.approx(hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l)), rel=1e-10)


def test_linear_cka_invariances_and_extremes():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(64, 6)), rng.normal(size=(64, 6))
    base = alignment.linear_cka(x, y)
    q = random_orthogonal(rng, 6)
    assert alignment.linear_cka(x @ q, y) == pytest.approx(base, rel=1e-10)
    assert alignment.linear_cka(3.7 * x, y) == pytest.approx(base, rel=1e-10)
    assert alignment.linear_cka(x + 5.0, y) == pytest.approx(base, rel=1e-10)  # centering removes offsets
    assert alignment.linear_cka(x, x @ q * 2.0) == pytest.approx(1.0)
    assert base < 0.5  # independent noise is far from identical geometry


def test_procrustes_recovers_orthogonal_map_from_noisy_pairs():
    rng = np.random.default_rng(2)
    w = random_orthogonal(rng, 16)
    x = rng.normal(size=(400, 16))
    y = x @ w + 0.05 * rng.normal(size=x.shape)
    fit = alignment.procrustes(x, y)
    np.testing.assert_allclose(fit.T @ fit, np.eye(16), atol=1e-10)
    assert np.abs(fit - w).max() < 0.02


def test_csls_against_loop_reference():
    rng = np.random.default_rng(3)
    x, y, k = rng.normal(size=(7, 4)), rng.normal(size=(9, 4)), 3
    cos = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)  # noqa: E731
    ref = np.zeros((7, 9))
    for i in range(7):
        for j in range(9):
            r_x = np.mean(sorted(cos(x[i], b) for b in y)[-k:])
            r_y = np.mean(sorted(cos(a, y[j]) for a in x)[-k:])
            ref[i, j] = 2 * cos(x[i], y[j]) - r_x - r_y
    np.testing.assert_allclose(alignment.csls(x, y, k), ref, atol=1e-12)


def test_top_k_accuracy_counts_gold_columns():
    scores = np.array([[0.9, 0.1, 0.0], [0.8, 0.7, 0.0], [0.0, 0.5, 0.4]])
    assert alignment.top_k_accuracy(scores) == pytest.approx(1 / 3)
    assert alignment.top_k_accuracy(scores, k=2) == pytest.approx(1.0)
    assert alignment.top_k_accuracy(scores, gold=[0, 0, 1]) == pytest.approx(1.0)
