"""Racing: score a new candidate on growing prefixes of the train split and drop it as soon as
it is confidently below a reference candidate on the same examples (pure, deterministic).

How a race runs (the optimizer does the calls; this module only decides):

1. ``race_order`` shuffles the train split once with a seeded ``random.Random``. Every candidate
   raced against a reference is scored in that order, so the first ``n`` examples of a race are
   a uniformly random sample of the split. The reference (the current best) has been scored on
   the whole split, so its scores on the same examples are known and every comparison is paired.
2. ``RacePlan(n_train, ...).looks()`` are the prefix sizes at which to stop and ask: 8, 16, 32,
   ... doubling, and last the whole split. ``decide(candidate, reference)`` at each look says
   whether to drop the candidate; one that is never dropped is scored on the whole split.

The question each look answers is about the **full train split**: would the candidate's mean
score over the whole split be at least the reference's (minus ``margin``)? That is the number a
full evaluation would compute and the one the optimizer ranks by, so racing only has to avoid
changing which candidates the full evaluation would keep; whether the winner generalises is the
job of the validation and test splits. The only randomness the guarantee needs is the seeded
shuffle, which we control: no assumption about how the data were drawn.

**The error guarantee.** For a candidate chosen before the order is drawn whose full-split mean
is at least the reference's minus ``margin``, the probability that any look drops it is at most
``delta``, over all looks together. Three rules, each valid on its own:

- ``certain``: even if the candidate answered every remaining example right, its full-split mean
  would stay below the reference's minus ``margin``. Never wrong; it needs no randomness.
- ``sign`` (0/1 metrics, ``margin == 0``): an exact one-sided sign test on the discordant pairs
  (examples one candidate gets right and the other wrong). With ``w`` wins and ``l`` losses the
  p-value is ``P(Binomial(w + l, 1/2) >= l)``; a look drops when it is at most that look's share
  of ``delta`` (a union bound over looks). A prefix of a shuffled split is a sample without
  replacement, which is more concentrated than the binomial; the exact error of the whole
  procedure at the worst case (as many wins as losses in the split) is computed in the tests for
  splits of 24 and 100 examples.
- ``betting`` (graded scores in [0, 1], or any ``margin > 0``): a test by betting (Waudby-Smith
  and Ramdas, 2023) on the paired differences ``d = candidate - reference`` in [-1, 1] against
  ``mean(d) >= -margin``. The wealth ``prod(1 + lam_t * (-margin - d_t))`` with ``lam_t`` chosen
  from the earlier pairs only is a nonnegative supermartingale under the null, so by Ville's
  inequality it ever reaches ``1 / delta`` with probability at most ``delta``, at any number of
  looks: no union bound needed.

Failed calls are ``None``: a pair with a ``None`` on either side is left out (never a loss).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, TypeVar

Score = float | None
Rule = Literal["continue", "certain", "sign", "betting", "full"]
T = TypeVar("T")

_EPS = 1e-12  # slack for float sums of graded scores
_BET_CAP = 0.75  # at most 3/4 of the largest bet that keeps the wealth nonnegative


def race_order(items: Sequence[T], rng: random.Random) -> tuple[T, ...]:
    """The order in which a race scores the train split: a seeded uniform shuffle.

    The guarantee rests on this shuffle being uniform and drawn independently of the candidates
    it is used for; drawing a fresh order per step (a seed derived from the run seed and the
    step) keeps it independent of the candidates that step proposes.
    """
    shuffled = list(items)
    rng.shuffle(shuffled)
    return tuple(shuffled)


@dataclass(frozen=True)
class Decision:
    """What one look decided, with the evidence."""

    drop: bool
    rule: Rule
    n: int  # examples the candidate has been scored on (the look)
    n_train: int
    wins: int  # complete pairs where the candidate scored higher than the reference
    losses: int  # ... lower
    ties: int  # ... the same
    missing: int  # pairs left out because a call failed (None on either side)
    mean_difference: float | None  # candidate - reference over the complete pairs
    p_value: float | None  # sign test
    wealth: float | None  # betting test
    threshold: float | None  # the p-value's bound (sign) or the wealth's (betting)
    reason: str


@dataclass(frozen=True)
class Spent:
    """The sign test at one look: its budget, the losses that drop, and the size it spent."""

    look: int
    discordant: int
    budget: float
    cut: int  # drop when losses >= cut (cut > discordant: no drop possible)
    size: float  # P(Binomial(discordant, 1/2) >= cut): the error this look can add


@dataclass(frozen=True)
class RacePlan:
    """When to look and how to decide, for a train split of ``n_train`` examples.

    ``binary``: the metric only gives 0 or 1 (``exact_match``, ``contains``, ``regex``,
    ``numeric``, ``choice``); then, with ``margin == 0``, the exact sign test is used. Otherwise
    (``f1``, ``python``) the betting test. ``margin``: drop only when confidently below the
    reference minus ``margin`` (a score difference, 0.05 = 5 points). ``first_look`` and
    ``growth``: the looks are ``first_look * growth**k`` rounded up, then ``n_train``.
    """

    n_train: int
    delta: float = 0.05
    margin: float = 0.0
    binary: bool = True
    first_look: int = 8
    growth: float = 2.0

    def __post_init__(self) -> None:
        if self.n_train < 1:
            raise ValueError(f"n_train must be at least 1, not {self.n_train}")
        if not 0 < self.delta <= 0.5:
            raise ValueError(f"delta must lie in (0, 0.5], not {self.delta}")
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must lie in [0, 1), not {self.margin}")
        if self.first_look < 1:
            raise ValueError(f"first_look must be at least 1, not {self.first_look}")
        if self.growth <= 1:
            raise ValueError(f"growth must be above 1, not {self.growth}")

    @property
    def test(self) -> Literal["sign", "betting"]:
        return "sign" if self.binary and self.margin == 0 else "betting"

    def looks(self) -> tuple[int, ...]:
        """Prefix sizes at which to decide, ascending; the last is ``n_train`` (no test there)."""
        sizes: list[int] = []
        size = float(self.first_look)
        while math.ceil(size) < self.n_train:
            look = math.ceil(size)
            if not sizes or look > sizes[-1]:
                sizes.append(look)
            size *= self.growth
        return (*sizes, self.n_train)

    def budgets(self, candidate: Sequence[Score], reference: Sequence[Score]) -> list[Spent]:
        """The sign test's share of ``delta`` at each look up to ``len(candidate)``, and what each
        look actually spent: the exact size of its test given its number of discordant pairs."""
        spent: list[Spent] = []
        tested = self.looks()[:-1]
        left = self.delta
        for index, look in enumerate(tested):
            if look > len(candidate):
                break
            budget = left / (len(tested) - index)
            pairs = _pairs(candidate[:look], reference[:look])
            discordant = pairs.wins + pairs.losses
            cut = sign_test_cut(discordant, budget)
            size = sign_test_p(discordant - cut, cut) if cut <= discordant else 0.0
            spent.append(Spent(look, discordant, budget, cut, size))
            left -= size
        return spent

    def decide(
        self, candidate: Sequence[Score], reference: Sequence[Score], *, against: str = "the best"
    ) -> Decision:
        """Decide at a look: ``candidate`` holds its scores on the first ``n`` examples of the
        race order (``n`` must be one of ``looks()``), ``reference`` the reference's scores on
        the whole split in the same order. Scores lie in [0, 1]; ``None`` is a failed call.
        ``against`` names the reference in the reason.
        """
        n = len(candidate)
        self._check(candidate, reference)
        pairs = _pairs(candidate, reference[:n])
        where = f"{n}/{self.n_train}"
        evidence = f"{pairs.describe()} vs {against}"

        if n == self.n_train:
            return pairs.decision(False, "full", self, reason=f"scored on all {n} examples")

        best_possible = _best_possible_mean(pairs.diffs, reference[n:])
        if best_possible is not None and best_possible < -self.margin - _EPS:
            return pairs.decision(
                True,
                "certain",
                self,
                reason=f"dropped at {where}: cannot catch up ({evidence}; at best "
                f"{100 * best_possible:+.1f} points on the full split)",
            )

        if self.test == "sign":
            alpha = self.budgets(candidate, reference)[-1].budget
            p = sign_test_p(pairs.wins, pairs.losses)
            drop = p <= alpha
            verdict, relation = ("dropped", "<=") if drop else ("continues", ">")
            return pairs.decision(
                drop,
                "sign" if drop else "continue",
                self,
                p_value=p,
                threshold=alpha,
                reason=f"{verdict} at {where}: {evidence}, p={p:.3g} {relation} {alpha:.3g}",
            )

        wealth = betting_wealth(pairs.diffs, -self.margin, self.delta)
        bound = 1.0 / self.delta
        drop = wealth >= bound
        verdict, relation = ("dropped", ">=") if drop else ("continues", "<")
        return pairs.decision(
            drop,
            "betting" if drop else "continue",
            self,
            wealth=wealth,
            threshold=bound,
            reason=f"{verdict} at {where}: {evidence}, wealth {wealth:.3g} {relation} {bound:.3g}",
        )

    def _check(self, candidate: Sequence[Score], reference: Sequence[Score]) -> None:
        looks = self.looks()
        if len(candidate) not in looks:
            raise ValueError(f"decide called with {len(candidate)} scores; looks are {list(looks)}")
        if len(reference) != self.n_train:
            raise ValueError(f"reference has {len(reference)} scores; it needs all {self.n_train}")
        for value in (*candidate, *reference):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"score {value!r} outside [0, 1]")
            if self.binary and value is not None and value not in (0.0, 1.0):
                raise ValueError(f"score {value!r} is not 0 or 1 in a binary race")


@dataclass(frozen=True)
class _Pairs:
    """The paired differences on a prefix (complete pairs only) and their counts."""

    n: int
    diffs: tuple[float, ...]

    @property
    def wins(self) -> int:
        return sum(1 for d in self.diffs if d > 0)

    @property
    def losses(self) -> int:
        return sum(1 for d in self.diffs if d < 0)

    def describe(self) -> str:
        ties = len(self.diffs) - self.wins - self.losses
        text = f"{self.wins} wins, {self.losses} losses, {ties} ties"
        missing = self.n - len(self.diffs)
        return f"{text}, {missing} failed" if missing else text

    def decision(
        self,
        drop: bool,
        rule: Rule,
        plan: RacePlan,
        *,
        reason: str,
        p_value: float | None = None,
        wealth: float | None = None,
        threshold: float | None = None,
    ) -> Decision:
        wins, losses = self.wins, self.losses
        return Decision(
            drop=drop,
            rule=rule,
            n=self.n,
            n_train=plan.n_train,
            wins=wins,
            losses=losses,
            ties=len(self.diffs) - wins - losses,
            missing=self.n - len(self.diffs),
            mean_difference=sum(self.diffs) / len(self.diffs) if self.diffs else None,
            p_value=p_value,
            wealth=wealth,
            threshold=threshold,
            reason=reason,
        )


def _pairs(candidate: Sequence[Score], reference: Sequence[Score]) -> _Pairs:
    diffs = tuple(
        c - r for c, r in zip(candidate, reference, strict=True) if c is not None and r is not None
    )
    return _Pairs(len(candidate), diffs)


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


def betting_wealth(diffs: Sequence[float], null_mean: float, delta: float) -> float:
    """The largest wealth reached by betting that the mean of ``diffs`` is below ``null_mean``.

    ``diffs`` lie in [-1, 1]. Each bet ``lam`` is chosen from the earlier differences only (a
    growth-rate adaptive bet, aGRAPA, on shrunk estimates) and capped at half the largest bet
    that keeps the wealth nonnegative. Under ``mean >= null_mean`` the wealth is a nonnegative
    supermartingale, so it reaches ``1 / delta`` with probability at most ``delta``.
    """
    cap = _BET_CAP / (1.0 - null_mean)
    wealth = peak = 1.0
    total = 0.0
    squares = 0.25  # one pseudo-observation of variance 1/4 keeps the first bets small
    for t, d in enumerate(diffs, start=1):
        mean_est = total / t  # shrunk towards 0 by one pseudo-observation
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


def _best_possible_mean(diffs: Sequence[float], rest: Sequence[Score]) -> float | None:
    """The highest full-split mean difference the candidate could still reach: every remaining
    example where the reference has a score could be answered perfectly or fail (a failed pair
    is left out); the best case keeps exactly those that raise the mean."""
    total, count = sum(diffs), len(diffs)
    gains = sorted((1.0 - r for r in rest if r is not None), reverse=True)
    for gain in gains:
        if count and gain <= total / count:
            break
        total += gain
        count += 1
    return total / count if count else None
