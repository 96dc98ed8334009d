"""How opro writes numbers and prompts, the same in the terminal, Markdown and HTML.

Scores are percentages with one decimal. Unknown values are ``-``; an unknown cost is
``unknown``, never ``$0``.
"""

from __future__ import annotations

import re
from datetime import datetime

from opro_cli.rundir import Improvement

UNKNOWN = "-"
EMPTY_INSTRUCTION = "(empty instruction)"


def pct(value: float | None) -> str:
    """A 0..1 score as a percentage with one decimal: ``0.275`` -> ``27.5``."""
    return UNKNOWN if value is None else f"{value * 100:.1f}"


def signed_points(value: float) -> str:
    """A 0..1 difference in percentage points with its sign: ``0.275`` -> ``+27.5``."""
    return f"{value * 100:+.1f}"


def points(improvement: Improvement | None, *, ci: bool = False) -> str:
    """The test improvement in percentage points, optionally with its confidence interval."""
    if improvement is None:
        return UNKNOWN
    text = signed_points(improvement.test_delta)
    if ci and improvement.ci_low is not None and improvement.ci_high is not None:
        level = f"{improvement.ci_level * 100:.0f}% " if improvement.ci_level is not None else ""
        text += (
            f" ({level}CI {signed_points(improvement.ci_low)} to "
            f"{signed_points(improvement.ci_high)})"
        )
    return text


def interval(improvement: Improvement) -> str:
    """``95% CI [+15.0, +42.5]``, or an empty string when the run has no interval."""
    if improvement.ci_low is None or improvement.ci_high is None:
        return ""
    level = f"{improvement.ci_level * 100:.0f}% " if improvement.ci_level is not None else ""
    return f"{level}CI [{signed_points(improvement.ci_low)}, {signed_points(improvement.ci_high)}]"


def p_value(value: float | None) -> str:
    """``p = 0.012``, ``p < 0.001``, or ``-`` when the run has no p-value."""
    if value is None:
        return UNKNOWN
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def verdict(improvement: Improvement) -> str:
    """The significance verdict in words: ``significant at 95% (p = 0.004)``, ``not significant
    (p = 0.210): this test split detects gains of about 22 points``."""
    if improvement.significant is None:
        return "no significance verdict (written by an older opro)"
    level = f" at {improvement.ci_level * 100:.0f}%" if improvement.ci_level is not None else ""
    p = f" ({p_value(improvement.p_value)})" if improvement.p_value is not None else ""
    if improvement.significant:
        return f"significant{level}{p}"
    text = f"not significant{level}{p}"
    if improvement.ci_low is not None and improvement.ci_low > 0:
        # a few tables (4 wins and no loss; 15 and 6; ...) sit between the two: say which decides
        return text + ": the exact test decides; the interval, an approximation, just clears 0"
    if improvement.detectable_gain is not None:
        text += (
            f": this test split detects gains of about "
            f"{improvement.detectable_gain * 100:.0f} points"
        )
    return text


def result_line(
    winner_test: float | None,
    seed_test: float | None,
    improvement: Improvement | None,
    *,
    seed: str = "seed",
) -> str:
    """The run's result in one sentence, the same in every report: ``test: winner 82.5 vs seed
    60.0, +22.5 points (95% CI [+8.1, +35.0], n=40), significant at 95% (p = 0.004)``."""
    text = f"test: winner {pct(winner_test)} vs {seed} {pct(seed_test)}"
    if improvement is None:
        return text + " (no test comparison)"
    details = [x for x in (interval(improvement), _n(improvement)) if x]
    inside = f" ({', '.join(details)})" if details else ""
    return f"{text}, {signed_points(improvement.test_delta)} points{inside}, {verdict(improvement)}"


def _n(improvement: Improvement) -> str:
    if improvement.n is None:
        return ""
    missing = f", {improvement.missing} unanswered" if improvement.missing else ""
    return f"n={improvement.n}{missing}"


def usd(value: float | None) -> str:
    """A cost in US dollars: ``unknown``, ``$0``, ``<$0.0001``, ``$0.0123``, ``$12.34``."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    if value < 0.0001:
        return "<$0.0001"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def count(value: int | None) -> str:
    return UNKNOWN if value is None else f"{value:,}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return UNKNOWN
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def started(value: datetime | None) -> str:
    return UNKNOWN if value is None else value.strftime("%Y-%m-%d %H:%M")


def one_line(text: str, limit: int) -> str:
    """A prompt on one line, shortened to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    if not flat:
        return EMPTY_INSTRUCTION
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def fence(text: str, info: str = "") -> list[str]:
    """A Markdown code block that no backtick run inside ``text`` can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return [ticks + info, text, ticks]
