"""CI gates: whether a finished run passes ``--fail-under``, ``--min-improvement`` and
``--require-significant``, and whether its winner is a significant improvement
(``significance_failure``, also used by ``opro promote``). With any gate set, a test comparison
that still misses examples (failed calls) fails: the numbers are not final until ``opro resume``
answers them."""

from __future__ import annotations

from dataclasses import dataclass

from opro_cli.formatting import interval, signed_points, verdict
from opro_cli.rundir import Improvement, Summary


@dataclass(frozen=True)
class Gates:
    fail_under: float | None = None  # the winner's test score must reach this (0..1)
    # the winner must beat the best seed on test by this: the point estimate, not the interval
    min_improvement: float | None = None
    require_significant: bool = False  # the improvement must be significant at ci_level

    @property
    def any(self) -> bool:
        return (
            self.fail_under is not None
            or self.min_improvement is not None
            or self.require_significant
        )


def gate_failure(summary: Summary, gates: Gates, against: str = "the best seed") -> str | None:
    """Why the run does not pass the gates, in one line; None when it does. ``against`` names
    what ``summary.improvement`` compares the winner with."""
    if not gates.any:
        return None
    imp = summary.improvement
    if imp is not None and imp.missing:
        return (
            f"the test comparison is missing {imp.missing} examples (failed calls): "
            f"answer them first with opro resume {summary.run_dir or 'RUN_DIR'}"
        )
    test = summary.best.test
    if gates.fail_under is not None:
        if test is None:
            return "--fail-under: the run has no test split to check"
        if test < gates.fail_under:
            return f"--fail-under: winner's test score {test:.3f} < {gates.fail_under:.3f}"
    if gates.min_improvement is not None:
        if imp is None:
            return "--min-improvement: the run has no test split to check"
        if imp.test_delta < gates.min_improvement:
            return (
                f"--min-improvement: winner beats {against} on test by "
                f"{imp.test_delta:+.3f} < {gates.min_improvement:.3f}"
            )
    if gates.require_significant:
        failure = significance_failure(imp, against)
        if failure is not None:
            return f"--require-significant: {failure}"
    return None


def significance_failure(
    improvement: Improvement | None, against: str = "the best seed"
) -> str | None:
    """Why the winner is not a significant improvement over ``against`` on test, in one line;
    None when it is (``improvement.significant`` and no test example left unanswered)."""
    if improvement is None:
        return f"no test split: the run cannot show that the winner beats {against}"
    if improvement.significant is None:
        return (
            "the run has no significance verdict (written by an older opro) -> run it again "
            "with this opro (the response cache reuses its answers)"
        )
    if improvement.missing:
        return (
            f"{improvement.missing} test example(s) have no answer from the winner or "
            f"{against} (failed calls) -> run it again when the provider answers"
        )
    if not improvement.significant:
        ci = interval(improvement)
        return (
            f"the winner beats {against} on test by {signed_points(improvement.test_delta)} "
            f"points{f' ({ci})' if ci else ''}, n={improvement.n}: {verdict(improvement)}"
        )
    return None
