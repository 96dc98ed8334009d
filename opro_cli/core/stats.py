"""Statistics for the final comparison: means and a paired bootstrap interval (pure)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Difference:
    delta: float
    low: float | None
    high: float | None
    level: float
    n: int


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, samples: int, level: float, rng: random.Random
) -> Difference:
    """Mean of ``a - b`` over paired examples with a percentile bootstrap interval."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    n = len(diffs)
    if n == 0:
        return Difference(0.0, None, None, level, 0)
    delta = sum(diffs) / n
    if samples <= 0:
        return Difference(delta, None, None, level, n)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    tail = (1 - level) / 2
    low = means[int(tail * (samples - 1))]
    high = means[int(round((1 - tail) * (samples - 1)))]
    return Difference(delta, low, high, level, n)
