"""The report's listing columns, as text cells every format shows in the same order."""

from __future__ import annotations

from opro_cli.formatting import UNKNOWN, count, duration, pct, points, started, usd
from opro_cli.report.reader import RunRow


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
