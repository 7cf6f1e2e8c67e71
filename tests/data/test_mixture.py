"""Language sampling against the closed form p_i = n_i^alpha / sum_j n_j^alpha.

The closed form is evaluated here with Python floats (the mixture's blocks, which draw rows by
these probabilities, are tested in test_pipeline.py).
"""
from __future__ import annotations

import math

import pytest

from xlmeta_jax.data.mixture import sampling_probs

SIZES = {"en": 100_000, "de": 20_000, "sw": 300, "yo": 7}


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.7, 1.0])
def test_sampling_probs_closed_form(alpha):
    got = sampling_probs(SIZES, alpha)
    z = sum(n ** alpha for n in SIZES.values())
    assert list(got) == list(SIZES)  # order kept: language indices refer to it
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
