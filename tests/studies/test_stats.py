"""The statistics behind a verdict, against printed Student-t tables and hand computations."""
import numpy as np
import pytest

from xlmeta_jax.studies import stats

# 97.5% quantiles of Student's t as printed in statistics textbooks (3 decimals).
PRINTED = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262, 10: 2.228, 20: 2.086, 29: 2.045,
           30: 2.042, 40: 2.021, 50: 2.009, 60: 2.000, 80: 1.990, 100: 1.984, 120: 1.980, 1000: 1.962}


@pytest.mark.parametrize("df", sorted(PRINTED))
def test_t_quantiles_match_printed_tables(df):
    assert stats.t975(df) == pytest.approx(PRINTED[df], abs=1.5e-3)  # df 50, 80, 100, 1000: interpolated


def test_t_quantiles_match_scipy_where_available():
    t = pytest.importorskip("scipy.stats").t
    for df in range(1, 300):
        assert stats.t975(df) == pytest.approx(t.ppf(0.975, df), rel=2e-4)


def test_interval_of_a_known_sample():
    # 1..5: mean 3, sd sqrt(2.5), se sqrt(0.5); half width 2.7764451 * 0.7071068 = 1.9632
    lo, hi = stats.interval95([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (lo, hi) == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-5)
    assert stats.interval95([4.2]) is None and stats.std([4.2]) is None


def test_verdicts_follow_the_interval_and_the_claims_direction():
    a, b = {0: 10.0, 1: 10.2, 2: 9.9}, {0: 8.0, 1: 8.1, 2: 8.0}
    assert stats.paired(a, b, higher_is_better=True)["verdict"] == "supported"
    assert stats.paired(a, b, higher_is_better=False)["verdict"] == "contradicted"
    noisy = stats.paired({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.0, 1: 0.0, 2: 0.0}, True)  # [2 -/+ 4.303 / sqrt 3]
    assert noisy["difference"] == 2.0 and noisy["ci95"] == pytest.approx([2 - 4.3026527 / np.sqrt(3),
                                                                          2 + 4.3026527 / np.sqrt(3)])
    assert noisy["verdict"] == "inconclusive"
    one = stats.paired({0: 5.0, 3: 1.0}, {0: 1.0, 1: 0.0}, True)  # only seed 0 is in both arms
    assert one["seeds"] == [0] and one["ci95"] is None and one["verdict"] == "inconclusive"
