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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np

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
        gain = (_t_quantile(1.0 - alpha / 2, nu) + _t_quantile(power, nu)) * sd / math.sqrt(n)
        return gain if gain <= 1.0 else None
    if not 0.0 <= loss_rate <= 0.5:
        raise ValueError(f"loss_rate must be in [0, 0.5], got {loss_rate}")
    return _binary_detectable(n, alpha, power, loss_rate)


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


def mcnemar_midp(wins: int, losses: int) -> float:
    """Two-sided exact mid-p McNemar test on the discordant pairs.

    Under H0, wins ~ Binomial(wins + losses, 1/2); with k = min(wins, losses) the mid-p value is
    2 * (P(X < k) + P(X = k) / 2), computed in exact integer arithmetic.
    """
    if wins < 0 or losses < 0:
        raise ValueError("counts must be >= 0")
    d = wins + losses
    if d == 0:
        return 1.0
    k = min(wins, losses)
    below, term = 0, 1  # sum of C(d, j) for j < k; C(d, j)
    for j in range(k):
        below += term
        term = term * (d - j) // (j + 1)
    return min(1.0, (2 * below + term) / (1 << d))


def tango_interval(wins: int, losses: int, n: int, *, level: float) -> tuple[float, float]:
    """Tango's score interval for p(win) - p(loss) from ``n`` pairs: every difference whose score
    statistic (observed minus expected, over its standard error under the constrained maximum
    likelihood estimate) lies within the normal quantile."""
    if not 0 <= wins + losses <= n or wins < 0 or losses < 0 or n == 0:
        raise ValueError(f"impossible counts: wins={wins} losses={losses} n={n}")
    z = NormalDist().inv_cdf(1.0 - (1.0 - level) / 2)
    estimate = (wins - losses) / n

    def score(delta: float) -> float:
        return _tango_score(delta, wins, losses, n)

    low = -1.0 if losses == n else _solve_decreasing(score, z, -1.0, estimate)
    high = 1.0 if wins == n else _solve_decreasing(score, -z, estimate, 1.0)
    return low, high


def _tango_score(delta: float, wins: int, losses: int, n: int) -> float:
    # Constrained MLE of p(loss) given p(win) - p(loss) = delta: root of a x^2 + b x + c = 0.
    a = 2.0 * n
    b = (2.0 * n - wins + losses) * delta - (wins + losses)
    c = -losses * delta * (1.0 - delta)
    x = (-b + math.sqrt(max(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)
    var = n * (2.0 * x + delta * (1.0 - delta))
    num = wins - losses - n * delta
    if var <= 0.0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def _solve_decreasing(f: Callable[[float], float], target: float, lo: float, hi: float) -> float:
    """The point in [lo, hi] where the decreasing function f crosses target (bisection)."""
    for _ in range(200):
        if hi - lo <= 1e-12:
            break
        mid = (lo + hi) / 2
        if f(mid) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@lru_cache(maxsize=1024)
def _binary_detectable(n: int, alpha: float, power: float, loss_rate: float) -> float | None:
    if n == 0:
        return None
    largest = 1.0 - 2.0 * loss_rate
    if _mcnemar_power(n, loss_rate + largest, loss_rate, alpha) < power:
        return None
    lo, hi = 0.0, largest
    while hi - lo > 1e-4:
        mid = (lo + hi) / 2
        if _mcnemar_power(n, loss_rate + mid, loss_rate, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return hi


@lru_cache(maxsize=64)
def _critical_wins(n: int, alpha: float) -> np.ndarray:
    """For each number of discordant pairs d = 0..n, the fewest wins that make the mid-p
    McNemar verdict significant (d + 1 when none do)."""
    log_fact = _log_factorials(n)
    critical = np.empty(n + 1, dtype=np.int64)
    critical[0] = 1
    for d in range(1, n + 1):
        # Wins from d // 2 up; beyond d / 2 + 8 sqrt(d) the binomial tail is below exp(-128).
        j = np.arange(d // 2, min(d, d // 2 + int(8 * math.sqrt(d)) + 8) + 1)
        pmf = np.exp(log_fact[d] - log_fact[j] - log_fact[d - j] - d * math.log(2.0))
        upper = np.cumsum(pmf[::-1])[::-1]  # P(X >= j), to within exp(-128)
        midp = 2.0 * (upper - pmf) + pmf  # two-sided mid-p for j wins when j > d / 2
        ok = (midp < alpha) & (2 * j > d)
        critical[d] = int(j[np.argmax(ok)]) if ok.any() else d + 1
    return critical


def _mcnemar_power(n: int, p_win: float, p_loss: float, alpha: float) -> float:
    """P(significant improvement) for n pairs with these win and loss probabilities: the
    number of discordant pairs d ~ Binomial(n, p_win + p_loss), wins given d ~ Binomial(d,
    p_win / (p_win + p_loss)), significant when wins >= the critical count for d."""
    discordance = p_win + p_loss
    if discordance <= 0.0:
        return 0.0
    share = min(p_win / discordance, 1.0)
    critical = _critical_wins(n, alpha)
    log_fact = _log_factorials(n)
    p_d = _binomial_pmf(log_fact, n, np.arange(n + 1), discordance)
    ds = np.nonzero((p_d > 1e-12) & (critical <= np.arange(n + 1)))[0]
    if len(ds) == 0:
        return 0.0
    j = np.arange(int(critical[ds].min()), int(ds.max()) + 1)
    dd = ds[:, None]
    valid = j[None, :] <= dd
    jj = np.where(valid, j[None, :], 0)
    log_pmf = (
        log_fact[dd]
        - log_fact[jj]
        - log_fact[np.where(valid, dd - jj, 0)]
        + _xlogp(jj, share)
        + _xlogp(dd - jj, 1.0 - share)
    )
    mask = valid & (j[None, :] >= critical[ds][:, None])
    tails = np.exp(np.where(mask, log_pmf, -np.inf)).sum(axis=1)
    return float((p_d[ds] * tails).sum())


@lru_cache(maxsize=64)
def _log_factorials(n: int) -> np.ndarray:
    return np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1)))))


def _xlogp(k: np.ndarray, p: float) -> np.ndarray:
    """k * log(p), with 0 * log(0) = 0."""
    if p > 0.0:
        return k * math.log(p)
    return np.where(k == 0, 0.0, -np.inf)


def _binomial_pmf(log_fact: np.ndarray, n: int, k: np.ndarray, p: float) -> np.ndarray:
    if p <= 0.0:
        return np.asarray(k == 0, dtype=float)
    if p >= 1.0:
        return np.asarray(k == n, dtype=float)
    log_pmf = (
        log_fact[n] - log_fact[k] - log_fact[n - k] + k * math.log(p) + (n - k) * math.log1p(-p)
    )
    return np.asarray(np.exp(log_pmf), dtype=float)


# -- graded metrics --------------------------------------------------------------------------


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
    tail = _tail_count(alpha, samples)
    gen = np.random.default_rng(rng.getrandbits(64))
    t_abs = np.sort(np.abs(_bootstrap_t(diffs, samples, gen)))
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


def _tail_count(alpha: float, samples: int) -> int:
    """Bootstrap values beyond the interval's half-width: ceil(samples * alpha), at least 1."""
    if samples * alpha < 1 - 1e-9:
        raise ValueError(
            f"{samples} bootstrap samples cannot give a {(1 - alpha) * 100:g}% interval: "
            f"use at least {math.ceil(1 / alpha - 1e-9)}"
        )
    return math.ceil(samples * alpha - 1e-9)


def _bootstrap_t(diffs: np.ndarray, samples: int, gen: np.random.Generator) -> np.ndarray:
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


def _t_quantile(p: float, nu: int) -> float:
    """Student t quantile by the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5)."""
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / nu + g2 / nu**2 + g3 / nu**3 + g4 / nu**4


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level}")


def _check_power(power: float) -> None:
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be between 0 and 1, got {power}")
