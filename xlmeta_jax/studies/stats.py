"""The statistics of a verdict: mean, standard deviation and a 95% Student-t interval of
paired differences over seeds, and what the interval says about a claim.

No scipy: the 97.5% quantiles of Student's t are a table (df 1-30, 40, 60, 120), and
between table rows they are interpolated linearly in 1/df, which is how printed tables
are read and is accurate to about 1e-3 here.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

# Student's t, P(T <= t) = 0.975, by degrees of freedom; df -> infinity gives the normal 1.959964.
T975 = {1: 12.7062047, 2: 4.3026527, 3: 3.1824463, 4: 2.7764451, 5: 2.5705818, 6: 2.4469119, 7: 2.3646243,
        8: 2.3060041, 9: 2.2621572, 10: 2.2281389, 11: 2.2009852, 12: 2.1788128, 13: 2.1603687, 14: 2.1447867,
        15: 2.1314495, 16: 2.1199053, 17: 2.1098156, 18: 2.1009220, 19: 2.0930241, 20: 2.0859634, 21: 2.0796138,
        22: 2.0738731, 23: 2.0686576, 24: 2.0638986, 25: 2.0595386, 26: 2.0555294, 27: 2.0518305, 28: 2.0484071,
        29: 2.0452296, 30: 2.0422725, 40: 2.0210754, 60: 2.0002978, 120: 1.9799304}
Z975 = 1.9599640

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom (the half-width factor
    of a two-sided 95% interval)."""
    if df < 1:
        raise ValueError(f"degrees of freedom {df}; need at least 1")
    if df in T975:
        return T975[df]
    lo = max(d for d in T975 if d < df)
    hi = min((d for d in T975 if d > df), default=math.inf)  # 1 / inf = 0: the normal quantile
    w = (1 / lo - 1 / df) / (1 / lo - 1 / hi)
    return T975[lo] + w * (T975.get(hi, Z975) - T975[lo])


def std(values: Sequence[float]) -> float | None:
    """Sample standard deviation (n - 1); None for fewer than 2 values."""
    return float(np.std(values, ddof=1)) if len(values) >= 2 else None


def interval95(values: Sequence[float]) -> tuple[float, float] | None:
    """Two-sided 95% interval of the mean (Student t, df = n - 1); None for fewer than 2 values."""
    n = len(values)
    if n < 2:
        return None
    mean, half = float(np.mean(values)), t975(n - 1) * std(values) / math.sqrt(n)
    return mean - half, mean + half


def verdict(ci: tuple[float, float] | None) -> str:
    """Supported if the interval lies above 0, contradicted if below, inconclusive otherwise
    (and without an interval, i.e. fewer than 2 paired seeds)."""
    if ci is None:
        return INCONCLUSIVE
    return SUPPORTED if ci[0] > 0 else CONTRADICTED if ci[1] < 0 else INCONCLUSIVE


def paired(a: dict[int, float], b: dict[int, float], higher_is_better: bool) -> dict:
    """The claim 'a beats b' over the seeds both have: differences oriented so that positive
    means the claim's direction, their mean, 95% interval and verdict."""
    seeds = sorted(set(a) & set(b))
    sign = 1.0 if higher_is_better else -1.0
    diffs = [sign * (a[s] - b[s]) for s in seeds]
    ci = interval95(diffs)
    return {"seeds": seeds, "differences": diffs, "difference": float(np.mean(diffs)) if diffs else None,
            "std": std(diffs), "ci95": list(ci) if ci else None, "verdict": verdict(ci)}
