"""CI gates: whether a finished run passes ``--fail-under`` and ``--min-improvement``."""

from __future__ import annotations

from dataclasses import dataclass

from opro_cli.rundir import Summary


@dataclass(frozen=True)
class Gates:
    fail_under: float | None = None  # the winner's test score must reach this (0..1)
    min_improvement: float | None = None  # the winner must beat the best seed on test by this

    @property
    def any(self) -> bool:
        return self.fail_under is not None or self.min_improvement is not None


def gate_failure(summary: Summary, gates: Gates) -> str | None:
    """Why the run does not pass the gates, in one line; None when it does."""
    test = summary.best.test
    if gates.fail_under is not None:
        if test is None:
            return "--fail-under: the run has no test split to check"
        if test < gates.fail_under:
            return f"--fail-under: winner's test score {test:.3f} < {gates.fail_under:.3f}"
    if gates.min_improvement is not None:
        imp = summary.improvement
        if imp is None:
            return "--min-improvement: the run has no test split to check"
        if imp.test_delta < gates.min_improvement:
            return (
                f"--min-improvement: winner beats the best seed on test by "
                f"{imp.test_delta:+.3f} < {gates.min_improvement:.3f}"
            )
    return None
