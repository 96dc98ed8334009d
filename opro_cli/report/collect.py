"""Gather what a report shows: the listing (filtered) or the runs named on the command line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opro_cli import rundir
from opro_cli.report.compare import Report, build_view
from opro_cli.report.reader import (
    Diagnostics,
    RunFilter,
    list_runs,
    load_detail,
    read_row,
)

TOP = 5


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
    also their steps and candidates, but never their evaluations, so a listing stays fast."""
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
    else:
        rows = list_runs(runs_dir, diag, run_filter)
        views = (
            tuple(build_view(load_detail(row, diag, evaluations=False), top) for row in rows)
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
