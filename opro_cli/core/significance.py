"""Is the winner really better than the seed? A paired comparison on the test split (pure).

``compare_paired(a, b)`` takes the per-example test scores of the winner (``a``) and of the seed
(``b``) on the same examples and returns a ``Comparison``: the mean difference, an interval, a
two-sided p-value, a verdict and the smallest gain this split could detect.

Two kinds of data, two methods, picked from the scores themselves:

* **0/1 metrics** (every score exactly 0 or 1): only the discordant pairs carry information.
  ``wins`` = examples the winner got right and the seed wrong, ``losses`` = the reverse.
  The p-value is the exact mid-p McNemar test (wins ~ Binomial(wins + losses, 1/2) under H0);
  the interval is Tango's (1998) asymptotic score interval for the difference of paired
  proportions. The verdict follows the exact test: *significant* means ``p_value < 1 - level``,
  ``wins > losses`` and ``low > 0``. The last condition never binds in practice: for every table
  with up to 5,000 discordant pairs, at 90, 95 and 99%, a significant mid-p test has Tango's
  interval above 0. The converse does not hold. Tango's interval excludes 0 exactly when
  McNemar's asymptotic z = (wins - losses) / sqrt(wins + losses) exceeds the normal quantile,
  and for 42 of the 5,000 possible discordant counts at 95% that needs one win less than the
  exact test, e.g. 4 wins and 0 losses: interval [0.5, 29.7] points at n = 30 but p = 0.0625,
  not significant. Under no true gain such a table turns up at most 1.4% of the time
  (n = 20 to 200, ``bench/bench_significance.py``). Tango rather than Newcombe's hybrid score
  interval, by exact coverage at n = 20-200, loss rates 2.5-15% and gains 0-20 points: Tango
  never falls below 94.4% (Newcombe 89.6%, Wald and the percentile bootstrap 78%) and stays
  within 93-97% at n >= 30 wherever the prompts disagree on at least 10% of the examples; with
  fewer disagreements it is conservative (up to 99.8%: a few discordant pairs say little).
* **Graded metrics** (anything else in [0, 1]): the symmetric studentized bootstrap (bootstrap-t)
  for the mean difference: T* = (mean* - mean) / se* over ``samples`` resamples, the interval
  is mean +- q * se with q the ``level`` quantile of |T*|, and the p-value is the share of
  resamples with |T*| >= |mean / se| (0 means below 1 / samples). So by construction
  ``p_value < 1 - level`` exactly when 0 is outside ``[low, high]``, and *significant* means
  ``low > 0``. The symmetric form is chosen by simulation: the equal-tailed bootstrap-t, BCa and
  the percentile bootstrap all fall to 84-89% coverage at n = 30 when most answers are
  identical (many differences exactly 0), where the symmetric form stays at or above 95%
  (``bench/bench_significance.py``). The interval is clipped to [-1, 1]. When every difference
  is the same value c (no spread to resample), the test is the exact sign-flip test,
  p = 2 ** (1 - n), and the interval is [c, c] when that is significant, else the span between
  0 and c.

A ``None`` score is a failed call: missing data, never a wrong answer. A pair with a ``None`` on
either side is dropped and counted in ``missing``.

``detectable_gain(n)`` is the smallest true improvement a split of n examples detects with the
given power (80% by default). For 0/1 metrics it is the exact power of the mid-p McNemar test
under a model where the winner loses a fixed share ``loss_rate`` of the examples (right for the
seed, wrong for the winner) and wins ``loss_rate + gain``; for graded metrics it is the paired
t approximation with the standard deviation ``sd`` of the per-example differences.

Randomness comes only from the ``random.Random`` passed in (the bootstrap of graded data).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from opro_cli.core.paired_binary import (
    binary_detectable,
    mcnemar_midp,
    tango_interval,
)
from opro_cli.core.paired_graded import bootstrap_t, t_quantile, tail_count

DEFAULT_LOSS_RATE = 0.05
"""Share of test examples the winner gets wrong that the seed got right, assumed by
``detectable_gain`` before a run (two prompts of equal accuracy then disagree on 10% of the
examples). After a run, ``compare_paired`` uses the observed share instead."""

DEFAULT_SAMPLES = 4000
"""Bootstrap resamples for graded data: the p-value's Monte Carlo error near 0.05 is ~0.0035.
At least 1 / (1 - level) are needed (20 at 95%)."""

BINARY_METHOD = "mcnemar-midp+tango"
GRADED_METHOD = "bootstrap-t"
CONSTANT_METHOD = "sign-flip"
EMPTY_METHOD = "none"


@dataclass(frozen=True)
class Comparison:
    """The winner (a) against the seed (b) on the complete pairs of the test split."""

    delta: float
    """Mean of a - b over the complete pairs (0.0 when there are none)."""
    low: float | None
    """Interval for the true mean difference at ``level``; None when n == 0."""
    high: float | None
    level: float
    n: int
    """Complete pairs (both scores present)."""
    missing: int
    """Pairs dropped because a score was None (a failed call)."""
    p_value: float
    """Two-sided, for H0: no difference between winner and seed."""
    method: str
    significant: bool
    """A significant improvement: the winner is better at ``level`` (see the module docstring)."""
    detectable_gain: float | None
    """Smallest true gain this split detects with probability ``power``, given the observed
    disagreement; None when no gain up to the largest possible one is detectable."""
    power: float
    wins: int
    """Pairs where the winner scored higher than the seed."""
    losses: int
    """Pairs where the winner scored lower than the seed."""

    @property
    def ties(self) -> int:
        return self.n - self.wins - self.losses


def compare_paired(
    a: Sequence[float | None],
    b: Sequence[float | None],
    *,
    level: float = 0.95,
    rng: random.Random,
    samples: int = DEFAULT_SAMPLES,
    power: float = 0.8,
) -> Comparison:
    """Compare the winner's per-example scores ``a`` with the seed's ``b`` (same examples)."""
    if len(a) != len(b):
        raise ValueError(f"paired scores differ in length: {len(a)} and {len(b)}")
    _check_level(level)
    _check_power(power)
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    missing = len(a) - len(pairs)
    for x, y in pairs:
        for v in (x, y):
            if not 0.0 <= v <= 1.0:  # also rejects NaN
                raise ValueError(f"score {v!r} is outside [0, 1]")
    n = len(pairs)
    if n == 0:
        return Comparison(
            delta=0.0,
            low=None,
            high=None,
            level=level,
            n=0,
            missing=missing,
            p_value=1.0,
            method=EMPTY_METHOD,
            significant=False,
            detectable_gain=None,
            power=power,
            wins=0,
            losses=0,
        )
    wins = sum(1 for x, y in pairs if x > y)
    losses = sum(1 for x, y in pairs if x < y)
    if all(v in (0, 1) for pair in pairs for v in pair):
        return _compare_binary(n, wins, losses, missing, level, power)
    diffs = np.array([x - y for x, y in pairs], dtype=float)
    return _compare_graded(diffs, wins, losses, missing, level, power, samples, rng)


def detectable_gain(
    n: int,
    *,
    level: float = 0.95,
    power: float = 0.8,
    loss_rate: float = DEFAULT_LOSS_RATE,
    sd: float | None = None,
) -> float | None:
    """Smallest true improvement (a fraction, 0.1 = 10 points) that a test split of ``n``
    examples declares significant with probability ``power``; None when none can be.

    Without ``sd`` (0/1 metrics): exact power of the mid-p McNemar verdict when the winner loses
    ``loss_rate`` of the examples and wins ``loss_rate + gain``. With ``sd`` (graded metrics, the
    standard deviation of the per-example differences): ``(t(1 - alpha/2) + t(power)) * sd /
    sqrt(n)`` with n - 1 degrees of freedom.
    """
    _check_level(level)
    _check_power(power)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    alpha = 1.0 - level
    if sd is not None:
        if not sd >= 0.0:
            raise ValueError(f"sd must be >= 0, got {sd}")
        if n < 2:
            return None
        nu = n - 1
        gain = (t_quantile(1.0 - alpha / 2, nu) + t_quantile(power, nu)) * sd / math.sqrt(n)
        return gain if gain <= 1.0 else None
    if not 0.0 <= loss_rate <= 0.5:
        raise ValueError(f"loss_rate must be in [0, 0.5], got {loss_rate}")
    return binary_detectable(n, alpha, power, loss_rate)


# -- 0/1 metrics -----------------------------------------------------------------------------


def _compare_binary(
    n: int, wins: int, losses: int, missing: int, level: float, power: float
) -> Comparison:
    p = mcnemar_midp(wins, losses)
    low, high = tango_interval(wins, losses, n, level=level)
    return Comparison(
        delta=(wins - losses) / n,
        low=low,
        high=high,
        level=level,
        n=n,
        missing=missing,
        p_value=p,
        method=BINARY_METHOD,
        significant=p < 1.0 - level and wins > losses and low > 0.0,
        detectable_gain=detectable_gain(
            n, level=level, power=power, loss_rate=min(wins, losses) / n
        ),
        power=power,
        wins=wins,
        losses=losses,
    )


def _compare_graded(
    diffs: np.ndarray,
    wins: int,
    losses: int,
    missing: int,
    level: float,
    power: float,
    samples: int,
    rng: random.Random,
) -> Comparison:
    n = len(diffs)
    alpha = 1.0 - level
    delta = float(diffs.mean())
    if np.all(diffs == diffs[0]):
        c = float(diffs[0])
        if c == 0.0:
            low, high, p = 0.0, 0.0, 1.0
        else:
            p = min(1.0, 2.0 ** (1 - n))
            low, high = (c, c) if p < alpha else (min(0.0, c), max(0.0, c))
        return Comparison(
            delta=c,
            low=low,
            high=high,
            level=level,
            n=n,
            missing=missing,
            p_value=p,
            method=CONSTANT_METHOD,
            significant=low > 0.0,
            # no spread to estimate from: fall back on the 0/1 assumption used before a run
            detectable_gain=detectable_gain(n, level=level, power=power),
            power=power,
            wins=wins,
            losses=losses,
        )
    tail = tail_count(alpha, samples)
    gen = np.random.default_rng(rng.getrandbits(64))
    t_abs = np.sort(np.abs(bootstrap_t(diffs, samples, gen)))
    sd = float(diffs.std(ddof=1))
    se = sd / math.sqrt(n)
    half = se * float(t_abs[samples - tail])  # inf when too many resamples have no spread
    low = max(-1.0, delta - half)
    high = min(1.0, delta + half)
    t0 = abs(delta) / se
    p = float(samples - np.searchsorted(t_abs, t0, side="left")) / samples  # |T*| >= |t0|
    return Comparison(
        delta=delta,
        low=low,
        high=high,
        level=level,
        n=n,
        missing=missing,
        p_value=p,
        method=GRADED_METHOD,
        significant=low > 0.0,
        detectable_gain=detectable_gain(n, level=level, power=power, sd=sd),
        power=power,
        wins=wins,
        losses=losses,
    )


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level}")


def _check_power(power: float) -> None:
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be between 0 and 1, got {power}")
