"""The report's tables as text cells (the listing's columns, the details' tables), shared by
the terminal, Markdown and HTML renderers, which only style them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opro_cli.formatting import (
    UNKNOWN,
    count,
    duration,
    pct,
    points,
    result_line,
    started,
    usd,
)
from opro_cli.report import collect
from opro_cli.report.compare import EXAMPLES_SHOWN, ExampleChange, RunView
from opro_cli.report.reader import RunRow
from opro_cli.rundir import SPLITS


# What every format leads with: the test result, in the same words.
def lead_results(rows: Sequence[RunRow], *, listing: bool) -> list[str]:
    """The test result of each run shown in detail (``FOLDER: test: winner ...``); a listing
    leads with its newest finished run's."""
    finished = [row for row in rows if row.has_summary]
    if listing:
        return [f"newest result, {_result(row)}" for row in finished[:1]]
    return [_result(row) for row in finished]


def _result(row: RunRow) -> str:
    return f"{row.folder}: {result_line(row.best.test, row.seed.test, row.improvement)}"


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
        usd(row.cost_usd),
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
NUMERIC = set(LISTING_HEADERS[LISTING_HEADERS.index("steps") :])


# The details' tables, as text cells; each renderer only styles them.
def status_text(row: RunRow) -> str:
    return row.status + (f" ({row.reason})" if row.reason else "")


def comparison_rows(views: Sequence[RunView]) -> list[tuple[str, list[str]]]:
    """The runs side by side: (label, one cell per run)."""
    rows = [
        ("status", [status_text(v.row) for v in views]),
        ("started (UTC)", [started(v.row.started_at) for v in views]),
        ("scorer", [v.row.scorer or UNKNOWN for v in views]),
        ("optimizer", [v.row.optimizer or UNKNOWN for v in views]),
        ("steps", [count(v.row.steps) for v in views]),
    ]
    for who in ("best", "seed"):
        for split in SPLITS:
            scores = [getattr(v.row, who).get(split) for v in views]
            rows.append((f"{who} {split}", [pct(s) for s in scores]))
    rows += [
        ("Δ test (points)", [points(v.row.improvement, ci=True) for v in views]),
        ("calls", [count(v.row.calls) for v in views]),
        ("tokens", [count(v.row.tokens) for v in views]),
        ("cost", [usd(v.row.cost_usd) for v in views]),
        ("time", [duration(v.row.duration_s) for v in views]),
    ]
    return rows


def curve_table(views: Sequence[RunView]) -> tuple[list[str], list[list[str]]]:
    """Best-so-far and mean train score per step, a pair of columns per run."""
    headers = ["step"]
    for view in views:
        label = f"{view.row.folder} " if len(views) > 1 else ""
        headers += [f"{label}best", f"{label}mean"]
    curves = [{p.step: p for p in view.curve} for view in views]
    rows = []
    for step in sorted({s for curve in curves for s in curve}):
        cells = [str(step)]
        for curve in curves:
            point = curve.get(step)
            cells += [pct(point.best), pct(point.mean)] if point else ["", ""]
        rows.append(cells)
    return headers, rows


TOP_HEADERS = ["#", "step", "origin", "train", "val", "test", "prompt"]
TOP_NUMERIC = {"#", "step", "train", "val", "test"}


@dataclass(frozen=True)
class TopRow:
    """A top candidate: its cells but the prompt, whether it is the winner, and its text."""

    cells: list[str]
    winner: bool
    text: str


def top_rows(view: RunView) -> list[TopRow]:
    best_id = view.detail.best.id if view.detail.best else None
    return [
        TopRow(
            [
                str(rank),
                str(c.step),
                c.origin,
                pct(c.scores.train),
                pct(c.scores.val),
                pct(c.scores.test),
            ],
            c.id == best_id,
            c.text,
        )
        for rank, c in enumerate(view.top, start=1)
    ]


CHANGE_HEADERS = ["example", "seed answer", "winner answer"]
NO_ANSWER = "(no answer)"


def no_changes(view: RunView) -> str:
    """Why a run shows no fixed/broken test examples."""
    if not view.detail.evaluations_read:
        return (
            f"not read for runs beyond the newest {collect.ANSWERS_LISTED} of a listing; "
            f"opro report {view.row.folder} shows them"
        )
    return "no test answers for both the winner and the seed"


def change_tables(view: RunView) -> list[tuple[str, list[ExampleChange]]]:
    """The first fixed and broken test examples, as (label, examples) for each that has any."""
    changes = view.changes
    if changes is None:
        return []
    return [
        (label, list(items[:EXAMPLES_SHOWN]))
        for label, items in (("fixed", changes.fixed), ("broken", changes.broken))
        if items
    ]
