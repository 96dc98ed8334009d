"""Racing: score a new candidate on growing prefixes of the train split and drop it as soon as
it is confidently below a reference candidate (the current best) on the full split (pure).

How a race runs (the optimizer makes the calls; this module only decides):

1. ``race_order`` shuffles the train split with a seeded ``random.Random``. A candidate is scored
   in that order, so the first ``n`` examples it sees are a uniformly random sample of the split.
   The reference has been scored on the whole split, so its full-split score is known exactly,
   and so are its scores on the same examples (a paired comparison).
2. ``RacePlan(n_train, ...).looks()`` are the prefix sizes at which to stop and ask: 8, 16, 32,
   ... doubling, and last the whole split. ``decide(candidate, reference)`` at a look says
   whether to drop; a candidate never dropped is scored on the whole split.

**The question** each look answers is about the full train split: is the candidate's mean score
over the whole split at least the reference's, minus ``margin``? That is the number a full
evaluation computes and the one the optimizer ranks by, so racing need only avoid changing what
a full evaluation would keep; whether the winner generalises is the validation and test splits'
job. The only randomness the guarantee uses is the seeded shuffle, which we control: nothing is
assumed about how the data were drawn.

**The guarantee.** For a candidate proposed before its race order was drawn, whose full-split
mean is at least the reference's minus ``margin``, the probability that some look drops it is at
most ``delta``, all looks together. A failed call (``None``) never counts against the candidate:
its own failed calls count as right answers and the reference's as wrong ones, which can only
delay a drop, so the guarantee holds whether a full evaluation leaves failed calls out of the
mean or counts them as wrong. The rules, each valid on its own, with ``delta`` split between the
tests (a union bound):

- ``certain``: even answering every remaining example perfectly, the candidate would end below
  the reference minus ``margin``. Never wrong.
- ``urn`` (0/1 scores; ``delta / 2``): the candidate's right answers in the first ``n`` examples
  are a draw without replacement from an urn of ``n_train`` balls, of which at least
  ``K = ceil(n_train * (reference mean - margin))`` are right under the null. The cut at each
  look is chosen on that urn, by an exact computation over all looks together, so that the chance
  of ever falling to or below a cut is at most ``delta / 2`` (spent evenly over the looks,
  cumulatively). No approximation and no union bound over looks; the reference's full-split
  score is used exactly.
- ``sign`` (0/1 scores, ``margin == 0``; ``delta / 2``): an exact one-sided sign test on the
  discordant pairs (one of the two right, the other wrong). With ``w`` won and ``l`` lost the
  p-value is ``P(Binomial(w + l, 1/2) >= l)``. Looks share the budget (a union bound), and a look
  whose discordant pairs are too few to drop passes its share on. Strongest when the candidate's
  answers follow the reference's closely (small rewordings), where the urn test is weak.
- ``betting`` (graded scores in [0, 1]: ``delta``; 0/1 scores with a margin: ``delta / 2``): a
  test by betting (Waudby-Smith and Ramdas, 2023) on the paired differences in [-1, 1] against
  ``mean >= -margin``. The wealth is a nonnegative supermartingale under the null, so by Ville's
  inequality it reaches ``1 / delta`` with probability at most ``delta`` at any number of looks.

The tests check the error exactly (a dynamic programme over the draws) on small splits and by
seeded simulation at 24, 100 and 500 examples.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from opro_cli.core.sequential import (
    betting_wealth,
    hypergeometric_cdf,
    sign_test_cut,
    sign_test_p,
    urn_cuts,
)

Score = float | None
Rule = Literal["continue", "certain", "urn", "sign", "betting", "full"]
Test = Literal["urn", "sign", "betting"]
T = TypeVar("T")

_EPS = 1e-9  # slack for float sums of scores


def race_order(items: Sequence[T], rng: random.Random) -> tuple[T, ...]:
    """The order in which a race scores the train split: a seeded uniform shuffle.

    The guarantee needs the order drawn independently of the candidates raced in it: a fresh
    order per optimizer step (seeded from the run seed and the step) does that, and keeps the
    candidates of one step comparable with each other.
    """
    shuffled = list(items)
    rng.shuffle(shuffled)
    return tuple(shuffled)


@dataclass(frozen=True)
class Evidence:
    """One test at one look: its statistic, the bound that drops, and whether it did."""

    test: Test
    value: float  # a p-value (urn, sign) or a wealth (betting)
    bound: float  # drop when value <= bound (urn, sign) or value >= bound (betting)
    drops: bool
    text: str


@dataclass(frozen=True)
class Decision:
    """What one look decided, with the evidence behind it."""

    drop: bool
    rule: Rule
    n: int  # examples the candidate has been scored on (the look)
    n_train: int
    candidate_score: float | None  # its mean on the prefix, failed calls left out
    reference_score: float | None  # the reference's mean on the full split
    wins: int  # complete pairs where the candidate scored higher than the reference
    losses: int  # ... lower
    ties: int  # ... the same
    failed: int  # the candidate's failed calls in the prefix
    evidence: tuple[Evidence, ...]
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

    ``binary``: every score is 0 or 1 (``exact_match``, ``contains``, ``regex``, ``numeric``,
    ``choice``), so the urn and sign tests apply; otherwise (``f1``, ``python``) the betting
    test. ``margin``: drop only when confidently below the reference minus ``margin`` (a score
    difference: 0.05 is 5 points). The looks are ``first_look * growth**k`` rounded up, then
    ``n_train``.
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

    def shares(self) -> dict[Test, float]:
        """How ``delta`` is split between the tests this plan runs."""
        if not self.binary:
            return {"betting": self.delta}
        paired: Test = "sign" if self.margin == 0 else "betting"
        return {"urn": self.delta / 2, paired: self.delta / 2}

    def sign_budgets(self, candidate: Sequence[float], reference: Sequence[float]) -> list[Spent]:
        """The sign test's budget at each look up to ``len(candidate)`` and what each look spent:
        the exact size of its test given its number of discordant pairs. A look shares what is
        left evenly with the looks after it."""
        spent: list[Spent] = []
        tested = self.looks()[:-1]
        left = self.shares().get("sign", 0.0)
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
        self._check(candidate, reference)
        n = len(candidate)
        failed = sum(1 for c in candidate if c is None)
        known = [c for c in candidate if c is not None]
        # failed calls in the candidate's favour: its own right, the reference's wrong
        mine = [1.0 if c is None else c for c in candidate]
        theirs = [0.0 if r is None else r for r in reference]
        reference_mean = sum(theirs) / self.n_train
        pairs = _pairs(mine, theirs[:n])

        def decision(drop: bool, rule: Rule, evidence: tuple[Evidence, ...], why: str) -> Decision:
            return Decision(
                drop=drop,
                rule=rule,
                n=n,
                n_train=self.n_train,
                candidate_score=sum(known) / len(known) if known else None,
                reference_score=reference_mean,
                wins=pairs.wins,
                losses=pairs.losses,
                ties=pairs.ties,
                failed=failed,
                evidence=evidence,
                reason=why,
            )

        where = f"{n}/{self.n_train}"
        if failed:
            where += f" ({failed} failed, counted right)"
        if n == self.n_train:
            return decision(False, "full", (), f"scored on all {n} examples")

        best_possible = (sum(mine) + self.n_train - n) / self.n_train
        if best_possible < reference_mean - self.margin - _EPS:
            return decision(
                True,
                "certain",
                (),
                f"dropped at {where}: cannot catch up ({_right(candidate)}; at most "
                f"{100 * best_possible:.1f} on the full split vs {100 * reference_mean:.1f} "
                f"for {against})",
            )

        evidence = tuple(
            self._run(test, share, mine, theirs, reference_mean, pairs, against)
            for test, share in self.shares().items()
        )
        for item in evidence:
            if item.drops:
                return decision(True, item.test, evidence, f"dropped at {where}: {item.text}")
        return decision(
            False,
            "continue",
            evidence,
            f"continues at {where}: " + "; ".join(item.text for item in evidence),
        )

    def _run(
        self,
        test: Test,
        share: float,
        candidate: Sequence[float],
        reference: Sequence[float],
        reference_mean: float,
        pairs: _Pairs,
        against: str,
    ) -> Evidence:
        n = len(candidate)
        if test == "urn":
            right = round(sum(candidate))
            k_min = math.ceil(self.n_train * (reference_mean - self.margin) - _EPS)
            tested = self.looks()[:-1]
            cut = urn_cuts(self.n_train, max(k_min, 0), tested, share)[tested.index(n)]
            p = hypergeometric_cdf(self.n_train, k_min, n, right)
            bound = hypergeometric_cdf(self.n_train, k_min, n, cut)
            drops = k_min > 0 and right <= cut
            target = f"{100 * reference_mean:.1f}" + (
                f" - {100 * self.margin:g}" if self.margin else ""
            )
            text = (
                f"{right} of {n} right vs {target} for {against} on the full split, "
                f"P={p:.3g} {'<=' if drops else '>'} {bound:.3g} (urn)"
            )
            return Evidence("urn", p, bound, drops, text)
        if test == "sign":
            budget = self.sign_budgets(candidate, reference)[-1].budget
            p = sign_test_p(pairs.wins, pairs.losses)
            drops = p <= budget
            relation = "<=" if drops else ">"
            text = f"{pairs.describe()} vs {against}, p={p:.3g} {relation} {budget:.3g} (sign)"
            return Evidence("sign", p, budget, drops, text)
        wealth = betting_wealth(pairs.diffs, -self.margin, share)
        bound = 1.0 / share
        drops = wealth >= bound
        text = (
            f"{pairs.describe()} vs {against}, wealth {wealth:.3g} "
            f"{'>=' if drops else '<'} {bound:.3g} (betting)"
        )
        return Evidence("betting", wealth, bound, drops, text)

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
    """The paired differences on a prefix."""

    diffs: tuple[float, ...]

    @property
    def wins(self) -> int:
        return sum(1 for d in self.diffs if d > 0)

    @property
    def losses(self) -> int:
        return sum(1 for d in self.diffs if d < 0)

    @property
    def ties(self) -> int:
        return len(self.diffs) - self.wins - self.losses

    def describe(self) -> str:
        return f"{self.wins} won, {self.losses} lost, {self.ties} tied"


def _pairs(candidate: Sequence[float], reference: Sequence[float]) -> _Pairs:
    return _Pairs(tuple(c - r for c, r in zip(candidate, reference, strict=True)))


def _right(candidate: Sequence[Score]) -> str:
    known = [c for c in candidate if c is not None]
    text = f"{sum(known):g} of {len(known)} right"
    failed = len(candidate) - len(known)
    return f"{text}, {failed} failed" if failed else text


__all__ = [
    "Decision",
    "Evidence",
    "RacePlan",
    "Spent",
    "betting_wealth",
    "hypergeometric_cdf",
    "race_order",
    "sign_test_cut",
    "sign_test_p",
    "urn_cuts",
]
