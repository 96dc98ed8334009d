"""The racing bound: looks, the drop rules, failed calls, and its error rate.

The error rate is checked exactly where that is cheap (each test's own share: the sign test by a
dynamic programme over the draws of a shuffled split, the urn test by chaining hypergeometric
distributions from look to look in exact fractions) and, for the whole procedure, by seeded
simulation at 24, 100 and 500 examples. The simulations race the kind of split the guarantee is
about: a fixed train split on which the candidate is at least as good as the reference, in
many random orders.
"""

from __future__ import annotations

import functools
import math
import random
import statistics
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pytest

from opro_cli.core.racing import (
    Decision,
    Evidence,
    RacePlan,
    Score,
    betting_wealth,
    hypergeometric_cdf,
    race_order,
    sign_test_cut,
    sign_test_p,
    urn_cuts,
)

# -- helpers -----------------------------------------------------------------------------------


def split_of(wins: int, losses: int, ties_right: int, ties_wrong: int) -> list[tuple[float, float]]:
    """A train split as (candidate, reference) pairs with the given counts, in a fixed order."""
    return (
        [(1.0, 0.0)] * wins
        + [(0.0, 1.0)] * losses
        + [(1.0, 1.0)] * ties_right
        + [(0.0, 0.0)] * ties_wrong
    )


def race(plan: RacePlan, pairs: Sequence[tuple[Score, Score]]) -> Decision:
    """Run one race over ``pairs`` (already in race order): decide at each look until a drop."""
    candidate = [c for c, _ in pairs]
    reference = [r for _, r in pairs]
    for look in plan.looks():
        decision = plan.decide(candidate[:look], reference)
        if decision.drop or look == plan.n_train:
            return decision
    raise AssertionError("the last look always decides")


def correlated_split(
    rng: random.Random, n: int, p_best: float, p_candidate: float, rho: float = 0.5
) -> list[tuple[float, float]]:
    """0/1 scores whose right and wrong answers share a per-example difficulty (as two wordings
    of one prompt on one model do): a Gaussian copula with correlation ``rho``."""
    normal = statistics.NormalDist()
    q_best, q_candidate = normal.inv_cdf(p_best), normal.inv_cdf(p_candidate)
    pairs = []
    for _ in range(n):
        shared = rng.gauss(0, 1) * math.sqrt(rho)
        best = shared + rng.gauss(0, 1) * math.sqrt(1 - rho) < q_best
        candidate = shared + rng.gauss(0, 1) * math.sqrt(1 - rho) < q_candidate
        pairs.append((float(candidate), float(best)))
    return pairs


# -- the schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_train", "looks"),
    [
        (1, (1,)),
        (8, (8,)),
        (9, (8, 9)),
        (10, (8, 10)),
        (24, (8, 16, 24)),
        (100, (8, 16, 32, 64, 100)),
        (500, (8, 16, 32, 64, 128, 256, 500)),
        (3000, (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3000)),
    ],
)
def test_looks_double_from_8_and_end_with_the_whole_split(
    n_train: int, looks: tuple[int, ...]
) -> None:
    assert RacePlan(n_train).looks() == looks


def test_looks_follow_first_look_and_growth() -> None:
    assert RacePlan(100, first_look=10, growth=1.5).looks() == (10, 15, 23, 34, 51, 76, 100)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_train": 0},
        {"n_train": 10, "delta": 0.0},
        {"n_train": 10, "delta": 0.6},
        {"n_train": 10, "margin": -0.1},
        {"n_train": 10, "first_look": 0},
        {"n_train": 10, "growth": 1.0},
    ],
)
def test_a_plan_refuses_settings_it_cannot_honour(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RacePlan(**kwargs)  # type: ignore[arg-type]


def test_decide_refuses_a_prefix_that_is_not_a_look_and_a_partial_reference() -> None:
    plan = RacePlan(24)
    with pytest.raises(ValueError, match="looks are \\[8, 16, 24\\]"):
        plan.decide([1.0] * 9, [1.0] * 24)
    with pytest.raises(ValueError, match="needs all 24"):
        plan.decide([1.0] * 8, [1.0] * 16)
    with pytest.raises(ValueError, match="not 0 or 1"):
        plan.decide([0.5] * 8, [1.0] * 24)
    with pytest.raises(ValueError, match="outside"):
        RacePlan(24, binary=False).decide([1.5] * 8, [1.0] * 24)


# -- the sign test -----------------------------------------------------------------------------


def test_sign_test_p_is_the_binomial_upper_tail() -> None:
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(5, 0) == 1.0
    assert sign_test_p(0, 8) == 1 / 256
    assert sign_test_p(2, 9) == 67 / 2048  # P(Bin(11, 1/2) >= 9) = (55 + 11 + 1) / 2048
    assert sign_test_p(3, 3) == 42 / 64


def test_sign_test_cut_is_the_fewest_losses_within_the_budget() -> None:
    assert sign_test_cut(8, 0.025) == 8  # 8 of 8: p = 0.0039; 7 of 8: p = 0.035
    assert sign_test_cut(5, 0.025) == 6  # not even 5 losses of 5 (p = 0.031): no drop possible
    for discordant in range(0, 40):
        for budget in (0.001, 0.0125, 0.025, 0.05):
            cut = sign_test_cut(discordant, budget)
            assert all(
                (sign_test_p(discordant - k, k) <= budget) == (k >= cut)
                for k in range(discordant + 1)
            )


def test_hypergeometric_tails_stay_below_the_binomial_tails_the_test_uses() -> None:
    """The lemma behind the guarantee on a finite split: drawing ``d`` of ``D`` discordant pairs
    without replacement, of which at most half are losses, makes ``cut`` or more losses no more
    likely than ``Binomial(d, 1/2)`` does, wherever that tail is within 0.5 (the largest delta).
    Checked here for every split of up to 80 discordant pairs (up to 240 when the module was
    written)."""
    for total in range(1, 81):
        losses = total // 2
        for drawn in range(1, total + 1):
            hyper = binom = 0
            for cut in range(drawn, -1, -1):
                binom += math.comb(drawn, cut)
                if binom / 2**drawn > 0.5:
                    break
                hyper += math.comb(losses, cut) * math.comb(total - losses, drawn - cut)
                assert hyper / math.comb(total, drawn) <= binom / 2**drawn


def test_a_clear_loser_is_dropped_with_a_reason_that_shows_the_evidence() -> None:
    plan = RacePlan(100)
    # race order: 8 examples with 1 won, 7 lost; the reference is right on 70 of 100
    pairs = split_of(1, 7, 0, 0) + [(None, 1.0)] * 63 + [(None, 0.0)] * 29
    candidate = [c for c, _ in pairs]
    reference = [r for _, r in pairs]
    at_8 = plan.decide(candidate[:8], reference)
    assert at_8 == Decision(
        drop=True,
        rule="urn",
        n=8,
        n_train=100,
        candidate_score=0.125,
        reference_score=0.7,
        wins=1,
        losses=7,
        ties=0,
        failed=0,
        evidence=(
            Evidence(
                "urn",
                hypergeometric_cdf(100, 70, 8, 1),
                hypergeometric_cdf(100, 70, 8, 1),
                True,
                "1 of 8 right vs 70.0 for the best on the full split, P=0.000797 <= 0.000797 (urn)",
            ),
            Evidence(
                "sign",
                9 / 256,
                0.00625,
                False,
                "1 won, 7 lost, 0 tied vs the best, p=0.0352 > 0.00625 (sign)",
            ),
        ),
        reason="dropped at 8/100: 1 of 8 right vs 70.0 for the best on the full split, "
        "P=0.000797 <= 0.000797 (urn)",
    )
    # the urn test drops at 1 of 8 right (not 2): P(X <= 1) = 0.0008, P(X <= 2) = 0.0085
    assert urn_cuts(100, 70, (8, 16, 32, 64), 0.025)[0] == 1


def test_a_candidate_that_follows_the_reference_closely_is_dropped_by_the_sign_test() -> None:
    """Few discordant pairs, all lost: the urn test sees a candidate only 8 points below, but
    the pairs show it is never better."""
    plan = RacePlan(100)
    pairs = split_of(0, 8, 20, 4) + [(None, 1.0)] * 48 + [(None, 0.0)] * 20
    candidate, reference = [c for c, _ in pairs], [r for _, r in pairs]
    decision = plan.decide(candidate[:32], reference)
    assert (decision.drop, decision.rule) == (True, "sign")
    assert [e.drops for e in decision.evidence] == [False, True]
    assert decision.reason == (
        "dropped at 32/100: 0 won, 8 lost, 24 tied vs the best, p=0.00391 <= 0.00859 (sign)"
    )


def test_a_candidate_close_to_the_reference_continues_with_both_tests_shown() -> None:
    plan = RacePlan(24)
    pairs = split_of(2, 3, 3, 0) + [(None, 1.0)] * 10 + [(None, 0.0)] * 6
    decision = plan.decide([c for c, _ in pairs][:8], [r for _, r in pairs])
    assert (decision.drop, decision.rule) == (False, "continue")
    assert decision.reason == (
        "continues at 8/24: 5 of 8 right vs 66.7 for the best on the full split, P=0.553 > "
        f"{hypergeometric_cdf(24, 16, 8, urn_cuts(24, 16, (8, 16), 0.025)[0]):.3g} (urn); "
        "2 won, 3 lost, 3 tied vs the best, p=0.5 > 0.0125 (sign)"
    )


def test_a_look_that_could_not_drop_passes_its_share_of_delta_on() -> None:
    plan = RacePlan(100)  # four tested looks: 8, 16, 32, 64; the sign test has delta / 2
    ties = [1.0] * 100
    spent = plan.sign_budgets(ties[:32], ties)
    assert [(s.look, s.discordant, s.size) for s in spent] == [
        (8, 0, 0.0),
        (16, 0, 0.0),
        (32, 0, 0.0),
    ]
    assert [s.budget for s in spent] == [0.00625, 0.025 / 3, 0.0125]
    # 8 losses of 8 at the first look spend P(Bin(8, 1/2) >= 8) = 1/256 of the budget
    losing = [0.0] * 8 + [1.0] * 92
    spent = plan.sign_budgets(losing[:16], [1.0] * 100)
    assert (spent[0].cut, spent[0].size) == (8, 1 / 256)
    assert spent[1].budget == pytest.approx((0.025 - 1 / 256) / 3)


def test_delta_is_split_between_the_tests_a_plan_runs() -> None:
    assert RacePlan(100).shares() == {"urn": 0.025, "sign": 0.025}
    assert RacePlan(100, margin=0.05).shares() == {"urn": 0.025, "betting": 0.025}
    assert RacePlan(100, binary=False).shares() == {"betting": 0.05}


# -- degenerate cases --------------------------------------------------------------------------


@pytest.mark.parametrize("n_train", [1, 5, 8])
def test_a_split_no_larger_than_the_first_look_is_scored_in_full(n_train: int) -> None:
    plan = RacePlan(n_train)
    decision = plan.decide([0.0] * n_train, [1.0] * n_train)
    assert (decision.drop, decision.rule, decision.n, decision.losses) == (
        False,
        "full",
        n_train,
        n_train,
    )
    assert decision.reason == f"scored on all {n_train} examples"


@pytest.mark.parametrize("binary", [True, False])
def test_ties_everywhere_never_drop(binary: bool) -> None:
    for value in (0.0, 1.0):
        plan = RacePlan(100, binary=binary)
        decision = race(plan, [(value, value)] * 100)
        assert (decision.drop, decision.rule, decision.n, decision.ties) == (
            False,
            "full",
            100,
            100,
        )


def test_on_the_smallest_splits_only_a_candidate_that_cannot_catch_up_is_dropped() -> None:
    plan = RacePlan(10)  # one look at 8: the 2 examples left can make up at most 2 points
    can_tie = split_of(0, 2, 6, 0) + [(None, 0.0)] * 2
    assert race(plan, can_tie).rule == "full"
    cannot = split_of(0, 3, 5, 0) + [(None, 0.0)] * 2
    assert race(plan, cannot).rule == "certain"


def test_a_candidate_that_cannot_catch_up_is_dropped_for_certain() -> None:
    plan = RacePlan(24)
    # 8 examples in: 0 right; the reference is right on 5 of them and on all 16 others, so even
    # 16 more right answers leave the candidate at 16 of 24 against 21
    pairs = split_of(0, 5, 0, 3) + [(None, 1.0)] * 16
    decision = plan.decide([c for c, _ in pairs][:8], [r for _, r in pairs])
    assert (decision.drop, decision.rule, decision.evidence) == (True, "certain", ())
    assert decision.reason == (
        "dropped at 8/24: cannot catch up (0 of 8 right; at most 66.7 on the full split vs "
        "87.5 for the best)"
    )


def test_a_candidate_that_can_still_tie_is_not_dropped_for_certain() -> None:
    plan = RacePlan(24)
    # 0 of 8 right against a reference right on 16 of 24: 16 more right answers would tie
    pairs = split_of(0, 5, 0, 3) + [(None, 0.0)] * 5 + [(None, 1.0)] * 11
    decision = plan.decide([c for c, _ in pairs][:8], [r for _, r in pairs])
    assert decision.rule != "certain"


def test_a_margin_spares_a_candidate_just_below_the_reference() -> None:
    # 8 examples in, the candidate can end at most 4 points below: dropped for certain without
    # a margin, spared with a 5-point margin
    pairs = split_of(0, 1, 7, 0) + [(None, 1.0)] * 16
    candidate, reference = [c for c, _ in pairs], [r for _, r in pairs]
    assert RacePlan(24).decide(candidate[:8], reference).rule == "certain"
    spared = RacePlan(24, margin=0.05).decide(candidate[:8], reference)
    assert (spared.drop, spared.rule) == (False, "continue")
    assert [e.test for e in spared.evidence] == ["urn", "betting"]


# -- failed calls ------------------------------------------------------------------------------


def test_failed_calls_never_count_against_the_candidate() -> None:
    plan = RacePlan(24)
    reference = [1.0] * 24
    assert plan.decide([0.0] * 16, reference).drop  # 16 wrong answers: dropped
    all_failed = plan.decide([None] * 16, reference)  # 16 failed calls: counted right
    assert (all_failed.drop, all_failed.failed, all_failed.losses, all_failed.ties) == (
        False,
        16,
        0,
        16,
    )
    assert all_failed.candidate_score is None
    assert all_failed.reason.startswith(
        "continues at 16/24 (16 failed, counted right): 16 of 16 right vs 100.0"
    )


def test_a_failed_reference_call_counts_as_the_reference_being_wrong() -> None:
    plan = RacePlan(100)
    pairs = split_of(0, 8, 0, 0) + [(0.0, None)] * 8 + [(None, 1.0)] * 84
    decision = plan.decide([c for c, _ in pairs][:16], [r for _, r in pairs])
    assert (decision.losses, decision.ties, decision.wins) == (8, 8, 0)
    assert decision.reference_score == 0.92


def test_a_failed_call_weighs_exactly_as_a_right_answer() -> None:
    """Seeded random races with failed calls: every decision equals the one for the same race
    with the failed calls answered right (only the failure count and the wording differ)."""
    rng = random.Random(7)
    plan = RacePlan(100)
    for _ in range(100):
        pairs = correlated_split(rng, 100, 0.7, 0.5)
        reference = [r for _, r in pairs]
        holed = [None if rng.random() < 0.3 else c for c, _ in pairs]
        answered = [1.0 if c is None else c for c in holed]
        for look in plan.looks():
            with_failures = plan.decide(holed[:look], reference)
            right = plan.decide(answered[:look], reference)
            assert (with_failures.drop, with_failures.rule) == (right.drop, right.rule)
            assert [e.value for e in with_failures.evidence] == [e.value for e in right.evidence]
            assert with_failures.failed == sum(1 for c in holed[:look] if c is None)


# -- the error rate: exactly -------------------------------------------------------------------


def sign_error(plan: RacePlan, wins: int, losses: int) -> float:
    """P(the sign test ever drops) when a split of ``plan.n_train`` pairs holds ``wins`` wins and
    ``losses`` losses and is raced in a uniformly random order: a dynamic programme over the
    draws, with states (wins drawn, losses drawn, discordant pairs seen at each earlier look)."""
    n, ties = plan.n_train, plan.n_train - wins - losses
    tested = plan.looks()[:-1]
    w = np.arange(wins + 1)[:, None]
    l = np.arange(losses + 1)[None, :]  # noqa: E741
    start = np.zeros((wins + 1, losses + 1))
    start[0, 0] = 1.0
    states: dict[tuple[int, ...], np.ndarray] = {(): start}
    error = 0.0
    for drawn in range(n):
        left = n - drawn
        p_win = (wins - w) / left
        p_loss = (losses - l) / left
        p_tie = np.clip(ties - (drawn - w - l), 0, None) / left
        for key, prob in states.items():
            moved = prob * p_tie
            moved[1:, :] += (prob * p_win)[:-1, :]
            moved[:, 1:] += (prob * p_loss)[:, :-1]
            states[key] = moved
        if drawn + 1 not in tested:
            continue
        look = drawn + 1
        after: dict[tuple[int, ...], np.ndarray] = {}
        for history, prob in states.items():
            for discordant in range(0, min(look, wins + losses) + 1):
                on_diagonal = (w + l == discordant) & (prob > 0)
                if not on_diagonal.any():
                    continue
                cut = sign_test_cut(discordant, _budget_after(plan, (*history, discordant)))
                dropped = on_diagonal & (l >= cut)
                error += float(prob[dropped].sum())
                kept = np.where(on_diagonal & ~dropped, prob, 0.0)
                target = after.setdefault((*history, discordant), np.zeros_like(prob))
                target += kept
        states = {k: v for k, v in after.items() if v.any()}
    return error


@functools.cache
def _budget_after(plan: RacePlan, discordant_at_looks: tuple[int, ...]) -> float:
    """The budget ``plan`` gives the last of these looks, asked of the plan itself through a
    race whose discordant pairs (all wins) come first within each stretch between looks."""
    looks = plan.looks()
    candidate: list[float] = []
    previous_look = previous = 0
    for look, discordant in zip(looks, discordant_at_looks, strict=False):
        fresh = discordant - previous
        candidate += [1.0] * fresh + [0.0] * (look - previous_look - fresh)
        previous_look, previous = look, discordant
    reference = [0.0] * plan.n_train
    return plan.sign_budgets(candidate, reference)[-1].budget


@pytest.mark.parametrize("n_train", [24, 34])
def test_the_sign_tests_exact_error_on_every_worst_case_split_is_within_its_share(
    n_train: int,
) -> None:
    """Worst cases: as many wins as losses (or one more win), from no discordant pairs at all
    to a split of nothing else."""
    plan = RacePlan(n_train)
    worst = max(
        sign_error(plan, losses + extra, losses)
        for losses in range(n_train // 2 + 1)
        for extra in (0, 1)
        if 2 * losses + extra <= n_train
    )
    assert 0 < worst <= plan.shares()["sign"]
    assert worst == pytest.approx({24: 0.00112, 34: 0.00211}[n_train], abs=5e-5)


def urn_error(n_train: int, right: int, looks: Sequence[int], cuts: Sequence[int]) -> Fraction:
    """P(the count of right answers falls to or below the cut at some look), exactly: the
    count's distribution is carried from look to look with hypergeometric steps."""
    surviving = {0: Fraction(1)}
    error = Fraction(0)
    previous = 0
    for look, cut in zip(looks, cuts, strict=True):
        step, pool = look - previous, n_train - previous
        reached: dict[int, Fraction] = {}
        for count, prob in surviving.items():
            good = right - count
            ways = math.comb(pool, step)
            for j in range(max(0, step - (pool - good)), min(step, good) + 1):
                share = Fraction(math.comb(good, j) * math.comb(pool - good, step - j), ways)
                reached[count + j] = reached.get(count + j, Fraction(0)) + prob * share
        error += sum(p for c, p in reached.items() if c <= cut)
        surviving = {c: p for c, p in reached.items() if c > cut}
        previous = look
    return error


@pytest.mark.parametrize(
    ("n_train", "rights", "floor"), [(24, range(1, 25), 0.0), (100, range(5, 100, 9), 0.5)]
)
def test_the_urn_tests_exact_error_is_within_its_share_and_spends_most_of_it(
    n_train: int, rights: range, floor: float
) -> None:
    """At the least number of right answers the null allows, for every reference score: the
    chance of ever being dropped is at most the urn test's share of delta, and from 100
    examples on, at least half of it for mid-range scores (the design wastes little; on 24
    examples the few possible counts at 8 and 16 leave 5-85% of it unused)."""
    plan = RacePlan(n_train)
    looks, share = plan.looks()[:-1], plan.shares()["urn"]
    for right in rights:
        cuts = urn_cuts(n_train, right, looks, share)
        error = urn_error(n_train, right, looks, cuts)
        assert error <= Fraction(share)
        if 0.25 <= right / n_train <= 0.85:
            assert error >= Fraction(share) * Fraction(floor), (right, float(error))


# -- the error rate and the savings: by seeded simulation --------------------------------------


@pytest.mark.parametrize(("n_train", "races"), [(24, 2000), (100, 1000), (500, 200)])
def test_an_equally_good_candidate_is_dropped_at_most_at_rate_delta(
    n_train: int, races: int
) -> None:
    """A split where the candidate wins exactly as often as it loses (a third of the pairs
    discordant), raced in many random orders: the drop rate stays within delta."""
    rng = random.Random(n_train)
    discordant = n_train // 3 // 2
    pairs = split_of(discordant, discordant, n_train // 3, n_train - 2 * discordant - n_train // 3)
    plan = RacePlan(n_train)
    drops = sum(race(plan, race_order(pairs, rng)).drop for _ in range(races))
    assert drops / races <= plan.delta


@pytest.mark.parametrize(("n_train", "races"), [(24, 1000), (100, 600), (500, 120)])
def test_a_candidate_better_or_equal_on_the_split_is_dropped_at_most_at_rate_delta(
    n_train: int, races: int
) -> None:
    """Realistic splits (correlated right answers, the candidate 0-5 points better in
    expectation); only races on splits where the candidate is at least as good count."""
    rng = random.Random(1000 + n_train)
    plan = RacePlan(n_train)
    kept_back = counted = 0
    for index in range(races):
        pairs = correlated_split(rng, n_train, 0.7, 0.7 + 0.05 * (index % 2))
        if sum(c for c, _ in pairs) < sum(r for _, r in pairs):
            continue
        counted += 1
        kept_back += race(plan, pairs).drop
    assert counted > races // 2
    assert kept_back / counted <= plan.delta


def test_a_much_worse_candidate_is_dropped_early() -> None:
    rng = random.Random(11)
    used, drops = [], 0
    for _ in range(150):
        decision = race(RacePlan(500), correlated_split(rng, 500, 0.7, 0.55))
        used.append(decision.n / 500)
        drops += decision.drop
    assert drops >= 140  # 15 points below: dropped in nearly every race
    assert statistics.mean(used) < 0.35  # on about a quarter of the split

    used = []
    for _ in range(300):
        decision = race(RacePlan(100), correlated_split(rng, 100, 0.7, 0.4))
        used.append(decision.n / 100)
    assert statistics.mean(used) < 0.45  # 30 points below, 100 examples


# -- graded scores: the betting test -----------------------------------------------------------


def test_betting_wealth_grows_on_losses_and_stays_at_one_on_wins() -> None:
    assert betting_wealth([0.5] * 50, 0.0, 0.05) == 1.0  # never bets on the candidate being worse
    assert betting_wealth([], 0.0, 0.05) == 1.0
    assert betting_wealth([-0.6] * 30, 0.0, 0.05) >= 20.0


def graded_split(
    rng: random.Random, n: int, mean_best: float, mean_candidate: float
) -> list[tuple[float, float]]:
    normal = statistics.NormalDist()
    pairs = []
    for _ in range(n):
        shared = rng.gauss(0, 0.6)
        best = normal.cdf(shared + rng.gauss(0, 0.8) + normal.inv_cdf(mean_best))
        candidate = normal.cdf(shared + rng.gauss(0, 0.8) + normal.inv_cdf(mean_candidate))
        pairs.append((round(candidate, 3), round(best, 3)))
    return pairs


@pytest.mark.parametrize(("n_train", "races"), [(24, 600), (100, 400), (500, 80)])
def test_graded_candidates_at_least_as_good_are_dropped_at_most_at_rate_delta(
    n_train: int, races: int
) -> None:
    rng = random.Random(2000 + n_train)
    plan = RacePlan(n_train, binary=False)
    drops = 0
    for _ in range(races):
        pairs = graded_split(rng, n_train, 0.6, 0.6)
        if sum(c for c, _ in pairs) < sum(r for _, r in pairs):
            pairs = [(r, c) for c, r in pairs]  # make the candidate the better one
        drops += race(plan, race_order(pairs, rng)).drop
    assert drops / races <= plan.delta


def test_binary_splits_with_equal_counts_through_the_betting_test_stay_within_delta() -> None:
    """The betting test is also what a margin uses on 0/1 scores; its worst case is the sign
    test's: half the pairs wins, half losses."""
    rng = random.Random(5)
    plan = RacePlan(100, margin=0.0001)
    pairs = split_of(25, 25, 25, 25)
    drops = sum(race(plan, race_order(pairs, rng)).drop for _ in range(600))
    assert drops / 600 <= plan.delta


def test_a_much_worse_graded_candidate_is_dropped_early() -> None:
    rng = random.Random(13)
    plan = RacePlan(500, binary=False)
    used = [race(plan, graded_split(rng, 500, 0.6, 0.4)).n / 500 for _ in range(60)]
    assert statistics.mean(used) < 0.3


# -- the order -------------------------------------------------------------------------------


def test_race_order_is_a_seeded_permutation() -> None:
    ids = [f"ex{i}" for i in range(30)]
    first = race_order(ids, random.Random(3))
    assert sorted(first) == sorted(ids)
    assert first != tuple(ids)
    assert race_order(ids, random.Random(3)) == first
    assert race_order(ids, random.Random(4)) != first
