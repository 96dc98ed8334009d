"""Gather what a report shows: the listing (filtered) or the runs named on the command line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opro_cli import rundir
from opro_cli.report.compare import Report, build_view
from opro_cli.report.reader import (
    Diagnostics,
    RunFilter,
    RunRow,
    list_runs,
    load_detail,
    read_row,
)

TOP = 5
ANSWERS_LISTED = 10  # a listing's HTML shows the test answers (fixed/broken) of the newest 10


def collect_report(
    runs_dir: Path,
    runs: Sequence[Path] = (),
    *,
    run_filter: RunFilter | None = None,
    charts: bool = False,
    top: int = TOP,
) -> Report:
    """With ``runs`` (run directories): those runs in full (evaluations included). Without:
    every run under ``runs_dir`` that passes the filter, newest first; with ``charts`` (HTML)
    also their steps and candidates, and for the newest ``ANSWERS_LISTED`` runs their val and
    test answers (not the train ones, the bulk of a run), so a listing stays fast."""
    diag = Diagnostics()
    if runs:
        resolved: dict[Path, Path] = {}
        for path in runs:
            resolved.setdefault(path.resolve(), path)
        rows = []
        for path in resolved.values():
            rundir.read_manifest(path)  # a run named on the command line must be readable
            row = read_row(path, diag)
            if row is not None:
                rows.append(row)
        views = tuple(build_view(load_detail(row, diag), top) for row in rows)
        diag.warnings += different_test_sets(rows)
    else:
        rows = list_runs(runs_dir, diag, run_filter)
        views = (
            tuple(
                build_view(
                    load_detail(
                        row,
                        diag,
                        evaluations=index < ANSWERS_LISTED,
                        lines_of_final_splits=True,
                    ),
                    top,
                )
                for index, row in enumerate(rows)
            )
            if charts
            else ()
        )
    return Report(
        runs_dir=runs_dir,
        rows=tuple(rows),
        views=views,
        detailed=bool(runs),
        warnings=tuple(dict.fromkeys(diag.warnings)),
        notes=tuple(dict.fromkeys(diag.notes)),
        filtered=run_filter is not None and run_filter.active and not runs,
    )


def different_test_sets(rows: Sequence[RunRow]) -> list[str]:
    """A warning when the runs compared were tested on different examples (another dataset,
    seed or split), so their test scores do not compare example for example."""
    groups: dict[str, list[str]] = {}
    for row in rows:
        if row.test_ids_sha256 is not None:
            groups.setdefault(row.test_ids_sha256, []).append(row.folder)
    if len(groups) < 2:
        return []
    sets = "; ".join(", ".join(folders) for folders in groups.values())
    return [
        f"the runs were tested on {len(groups)} different sets of examples ({sets}): "
        "compare their test scores with care"
    ]
