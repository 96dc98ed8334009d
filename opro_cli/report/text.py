"""How the report writes numbers: the same in the terminal, Markdown and HTML.

Scores are percentages with one decimal (as ``opro run`` prints them). Unknown values are ``-``;
an unknown cost is ``unknown``, never ``$0``.
"""

from __future__ import annotations

from datetime import datetime

from opro_cli.report.reader import Improvement, RunRow

UNKNOWN = "-"


def pct(value: float | None) -> str:
    return UNKNOWN if value is None else f"{value * 100:.1f}"


def points(improvement: Improvement | None, *, ci: bool = False) -> str:
    """The test improvement in percentage points, optionally with its confidence interval."""
    if improvement is None:
        return UNKNOWN
    text = f"{improvement.test_delta * 100:+.1f}"
    if ci and improvement.ci_low is not None and improvement.ci_high is not None:
        level = f"{improvement.ci_level * 100:.0f}% " if improvement.ci_level is not None else ""
        text += f" ({level}CI {improvement.ci_low * 100:+.1f} to {improvement.ci_high * 100:+.1f})"
    return text


def cost(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


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
        return "(empty instruction)"
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# The listing's columns: (header, cell) in the order every format shows them.
def listing_cells(row: RunRow) -> list[str]:
    return [
        row.folder,
        started(row.started_at),
        row.status,
        row.scorer or UNKNOWN,
        row.optimizer or UNKNOWN,
        count(row.steps),
        pct(row.best.train),
        pct(row.best.val),
        pct(row.best.test),
        pct(row.seed.test),
        points(row.improvement),
        count(row.calls),
        count(row.tokens),
        cost(row.cost_usd),
        duration(row.duration_s),
    ]


LISTING_HEADERS = [
    "run",
    "started (UTC)",
    "status",
    "scorer",
    "optimizer",
    "steps",
    "train",
    "val",
    "test",
    "seed test",
    "Δ test",
    "calls",
    "tokens",
    "cost",
    "time",
]
NUMERIC = {
    "steps",
    "train",
    "val",
    "test",
    "seed test",
    "Δ test",
    "calls",
    "tokens",
    "cost",
    "time",
}
