"""CI gates: whether a finished run passes ``--fail-under``, ``--min-improvement`` and
``--require-significant``. With any gate set, a test comparison that still misses examples
(failed calls) fails: the numbers are not final until ``opro resume`` answers them."""

from __future__ import annotations

from dataclasses import dataclass

from opro_cli.formatting import p_value, signed_points
from opro_cli.rundir import Summary


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


def gate_failure(summary: Summary, gates: Gates) -> str | None:
    """Why the run does not pass the gates, in one line; None when it does."""
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
                f"--min-improvement: winner beats the best seed on test by "
                f"{imp.test_delta:+.3f} < {gates.min_improvement:.3f}"
            )
    if gates.require_significant:
        if imp is None:
            return "--require-significant: the run has no test split to check"
        if imp.significant is None or imp.p_value is None:
            return "--require-significant: the run was made by an opro that did not test it"
        if not imp.significant:
            detect = (
                f"; this test split detects gains of about {imp.detectable_gain * 100:.0f} points"
                if imp.detectable_gain is not None
                else ""
            )
            return (
                f"--require-significant: {signed_points(imp.test_delta)} points over the seed is "
                f"not significant (p = {p_value(imp.p_value)}){detect}"
            )
    return None
