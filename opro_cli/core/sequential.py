"""The exact and anytime-valid tests racing decides with (pure): the urn test on a candidate's
right answers, the sign test on discordant pairs, and the test by betting on paired differences.
``core.racing`` explains how they are combined and what they guarantee."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

_BET_CAP = 0.75  # at most 3/4 of the largest bet that keeps the wealth nonnegative


# -- the urn test ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def urn_cuts(n_train: int, right: int, looks: tuple[int, ...], delta: float) -> tuple[int, ...]:
    """Cuts for drawing without replacement from ``n_train`` balls, ``right`` of them right.

    At look ``k`` (of ``m``) the cut is the largest count ``c`` such that the chance of having
    fallen to or below a cut at some look up to ``k`` stays within ``delta * k / m``. A cut of
    ``-1`` drops nothing. Computed exactly by following the distribution of the count draw by
    draw, removing the paths that were cut.
    """
    if right <= 0:
        return tuple(-1 for _ in looks)
    count = np.arange(right + 1)
    prob = np.zeros(right + 1)
    prob[0] = 1.0
    cuts: list[int] = []
    spent = 0.0
    drawn = 0
    for index, look in enumerate(looks, start=1):
        while drawn < look:
            up = np.clip((right - count) / (n_train - drawn), 0.0, 1.0)
            moved = prob * (1.0 - up)
            moved[1:] += (prob * up)[:-1]
            prob = moved
            drawn += 1
        cdf = np.cumsum(prob)
        within = np.flatnonzero(cdf <= delta * index / len(looks) - spent)
        cut = int(within[-1]) if within.size else -1
        if cut >= 0:
            spent += float(cdf[cut])
            prob[: cut + 1] = 0.0
        cuts.append(cut)
    return tuple(cuts)


def hypergeometric_cdf(population: int, right: int, drawn: int, at_most: int) -> float:
    """``P(X <= at_most)`` for ``X`` the right balls among ``drawn`` taken without replacement
    from ``population`` balls of which ``right`` are right (in log space; for display)."""
    right = min(max(right, 0), population)
    low, high = max(0, drawn - (population - right)), min(drawn, right)
    if at_most < low:
        return 0.0
    if at_most >= high:
        return 1.0

    def log_comb(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    total = log_comb(population, drawn)
    terms = [
        math.exp(log_comb(right, j) + log_comb(population - right, drawn - j) - total)
        for j in range(low, at_most + 1)
    ]
    return min(1.0, math.fsum(terms))


# -- the sign test -----------------------------------------------------------------------------


def sign_test_p(wins: int, losses: int) -> float:
    """One-sided exact sign test: ``P(Binomial(wins + losses, 1/2) >= losses)``."""
    total = wins + losses
    if losses <= 0:
        return 1.0
    tail = sum(math.comb(total, k) for k in range(losses, total + 1))
    return tail / (1 << total)


def sign_test_cut(discordant: int, budget: float) -> int:
    """The fewest losses among ``discordant`` pairs whose sign-test p-value is within
    ``budget``; ``discordant + 1`` when no number of losses is."""
    limit = Fraction(budget) * (1 << discordant)  # exact: p <= budget  <=>  tail <= limit
    tail = 0
    cut = discordant + 1
    while cut > 0:
        tail += math.comb(discordant, cut - 1)
        if tail > limit:
            break
        cut -= 1
    return cut


# -- the betting test --------------------------------------------------------------------------


def betting_wealth(diffs: Sequence[float], null_mean: float, delta: float) -> float:
    """The largest wealth reached by betting that the mean of ``diffs`` is below ``null_mean``.

    ``diffs`` lie in [-1, 1]. Each bet is chosen from the earlier differences only (a
    growth-rate adaptive bet, aGRAPA, on estimates shrunk by one pseudo-observation) and capped
    below the largest bet that keeps the wealth nonnegative. Under ``mean >= null_mean`` the
    wealth is a nonnegative supermartingale, so it reaches ``1 / delta`` with probability at most
    ``delta``; the loop stops there.
    """
    cap = _BET_CAP / (1.0 - null_mean)
    wealth = peak = 1.0
    total = 0.0
    squares = 0.25  # the pseudo-observation's variance keeps the first bets small
    for t, d in enumerate(diffs, start=1):
        mean_est = total / t
        var_est = squares / t
        edge = null_mean - mean_est
        lam = min(cap, max(0.0, edge / (var_est + edge * edge)))
        wealth *= 1.0 + lam * (null_mean - d)
        peak = max(peak, wealth)
        total += d
        squares += (d - mean_est) ** 2
        if peak >= 1.0 / delta:
            break
    return peak
