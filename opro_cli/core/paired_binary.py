"""Paired 0/1 scores: the exact mid-p McNemar test, Tango's score interval for the difference
of paired proportions, and the exact power of the test (pure)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from statistics import NormalDist

import numpy as np


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
def binary_detectable(n: int, alpha: float, power: float, loss_rate: float) -> float | None:
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
