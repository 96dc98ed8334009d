"""Paired graded scores in [0, 1]: the symmetric studentized bootstrap (bootstrap-t), whose
p-value and interval come from the same resamples (pure)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np


def tail_count(alpha: float, samples: int) -> int:
    """Bootstrap values beyond the interval's half-width: ceil(samples * alpha), at least 1."""
    if samples * alpha < 1 - 1e-9:
        raise ValueError(
            f"{samples} bootstrap samples cannot give a {(1 - alpha) * 100:g}% interval: "
            f"use at least {math.ceil(1 / alpha - 1e-9)}"
        )
    return math.ceil(samples * alpha - 1e-9)


def bootstrap_t(diffs: np.ndarray, samples: int, gen: np.random.Generator) -> np.ndarray:
    """Studentized bootstrap: (mean* - mean) / se* for ``samples`` resamples; a resample with
    no spread gives +-inf (0 when its mean equals the mean)."""
    n = len(diffs)
    delta = diffs.mean()
    out = np.empty(samples)
    rows = max(1, (1 << 20) // n)
    for start in range(0, samples, rows):
        stop = min(samples, start + rows)
        x = diffs[gen.integers(0, n, size=(stop - start, n))]
        num = x.mean(axis=1) - delta
        flat = np.ptp(x, axis=1) == 0
        se = x.std(axis=1, ddof=1) / math.sqrt(n)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = num / se
        t[flat] = np.where(num[flat] == 0, 0.0, np.copysign(np.inf, num[flat]))
        out[start:stop] = t
    return out


# -- small helpers ---------------------------------------------------------------------------


def t_quantile(p: float, nu: int) -> float:
    """Student t quantile by the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5)."""
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / nu + g2 / nu**2 + g3 / nu**3 + g4 / nu**4
