"""Language sampling against the closed form p_i = n_i^alpha / sum_j n_j^alpha.

The closed form is evaluated here with Python floats; empirical frequencies of
`sample_languages` must be within 5 binomial standard deviations of the given
probabilities.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from xlmeta_jax.data.mixture import sample_languages, sampling_probs

SIZES = {"en": 100_000, "de": 20_000, "sw": 300, "yo": 7}


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.7, 1.0])
def test_sampling_probs_closed_form(alpha):
    got = sampling_probs(SIZES, alpha)
    z = sum(n ** alpha for n in SIZES.values())
    assert list(got) == list(SIZES)  # order kept: indices of sample_languages refer to it
    for lang, n in SIZES.items():
        assert math.isclose(got[lang], n ** alpha / z, rel_tol=1e-12), lang
    assert math.isclose(sum(got.values()), 1.0, rel_tol=1e-12)


def test_sampling_probs_special_cases():
    assert sampling_probs(SIZES, 0.0) == pytest.approx({l: 0.25 for l in SIZES}, rel=1e-12)
    assert sampling_probs(SIZES, 1.0)["yo"] == pytest.approx(7 / 120_307, rel=1e-12)
    assert sampling_probs({"en": 5}, 0.3) == {"en": 1.0}
    # a smaller alpha up-samples the low-resource language
    assert sampling_probs(SIZES, 0.3)["yo"] > sampling_probs(SIZES, 0.7)["yo"] > sampling_probs(SIZES, 1.0)["yo"]


@pytest.mark.parametrize("sizes", [{"en": 10, "xx": 0}, {"en": 10, "xx": -3}])
def test_empty_language_is_an_error_naming_it(sizes):
    with pytest.raises(ValueError, match="xx"):
        sampling_probs(sizes, 0.3)


def test_no_languages_is_an_error():
    with pytest.raises(ValueError):
        sampling_probs({}, 0.3)


def test_sample_languages_frequencies():
    probs = {"en": 0.55, "de": 0.3, "sw": 0.149, "yo": 0.001}
    n = 200_000
    idx = sample_languages(np.random.default_rng(0), probs, n)
    assert idx.shape == (n,) and idx.min() >= 0 and idx.max() < len(probs)
    counts = np.bincount(idx, minlength=len(probs))
    for c, p in zip(counts, probs.values()):
        assert abs(c - n * p) <= 5 * math.sqrt(n * p * (1 - p)), (counts, probs)


def test_sample_languages_deterministic_in_rng():
    probs = sampling_probs(SIZES, 0.3)
    a = sample_languages(np.random.default_rng(1), probs, 500)
    b = sample_languages(np.random.default_rng(1), probs, 500)
    c = sample_languages(np.random.default_rng(2), probs, 500)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
