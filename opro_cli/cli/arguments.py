"""Command-line values that need more than Typer's types: times, statuses, run names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from opro_cli import rundir
from opro_cli.errors import RunDirError, UsageError

_AGO = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """``2025-01-31``, ``2025-01-31T12:00`` (UTC unless an offset is given) or ``30m``/``12h``/
    ``7d``/``2w`` before ``now``."""
    value = text.strip()
    match = _AGO.match(value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    parsed = rundir.parse_time(value)
    if parsed is None:
        raise UsageError(
            f"--since: cannot read '{text}'",
            hint="give a date (2025-01-31), a time (2025-01-31T12:00) or an age (30m, 12h, 7d, 2w)",
        )
    return parsed


def parse_statuses(values: Iterable[str]) -> tuple[str, ...]:
    statuses: list[str] = []
    for value in values:
        for part in value.split(","):
            status = part.strip()
            if not status:
                continue
            if status not in rundir.STATUSES:
                raise UsageError(
                    f"--status: unknown status '{status}'",
                    hint=f"use one of {', '.join(rundir.STATUSES)}",
                )
            statuses.append(status)
    return tuple(dict.fromkeys(statuses))


def resolve_run(arg: str, runs_dir: Path) -> Path:
    """A run directory from a path, a folder name under ``runs_dir``, or a unique prefix or
    suffix of one."""
    given = Path(arg)
    if given.is_dir():
        if not rundir.is_run_dir(given):
            raise RunDirError(
                f"{given}: not a run directory (no {rundir.MANIFEST})",
                hint="give a folder written by `opro run`",
            )
        return given
    how = f"list the runs with: opro report --runs-dir {runs_dir}"
    if not runs_dir.is_dir():
        raise RunDirError(f"{arg}: no such run (and no folder {runs_dir})", hint=how)
    folders = sorted(p for p in runs_dir.iterdir() if p.is_dir() and rundir.is_run_dir(p))
    exact = [p for p in folders if p.name == arg]
    if exact:
        return exact[0]
    matches = [p for p in folders if p.name.startswith(arg) or p.name.endswith(arg)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunDirError(f"{arg}: no run of that name under {runs_dir}", hint=how)
    shown = ", ".join(p.name for p in matches[:5]) + (", ..." if len(matches) > 5 else "")
    raise RunDirError(
        f"{arg}: matches {len(matches)} runs under {runs_dir} ({shown})",
        hint="give more of the folder name",
    )
