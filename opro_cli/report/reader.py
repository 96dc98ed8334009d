"""Read run directories into frozen dataclasses, read-only and tolerant.

A finished run is described by ``manifest.json`` + ``summary.json``. A run that is still running,
failed or was interrupted has no summary: what can be known is taken from ``steps.jsonl`` (and,
for details, ``candidates.jsonl`` and ``evaluations.jsonl``). A corrupt JSONL line is skipped with
a warning naming the file and line; a folder without ``manifest.json`` is ignored with a note.

Listing reads only ``manifest.json`` and ``summary.json`` per run (plus ``steps.jsonl`` when there
is no summary), so ``opro report`` over hundreds of runs stays fast. This module only needs
``json``: no pydantic, pandas or litellm.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from opro_cli.errors import RunDirError, UsageError
from opro_cli.jsonl import read_jsonl as read_jsonl_file

STATUSES = ("running", "completed", "budget_exhausted", "failed", "interrupted")
SPLITS = ("train", "val", "test")


# ---------------------------------------------------------------------------------------------
# The data


@dataclass(frozen=True)
class Scores:
    train: float | None = None
    val: float | None = None
    test: float | None = None

    def get(self, split: str) -> float | None:
        value: float | None = getattr(self, split)
        return value


@dataclass(frozen=True)
class Prompt:
    """A prompt with what is known of its scores (the winner or the best seed)."""

    id: str | None
    text: str
    scores: Scores


@dataclass(frozen=True)
class Improvement:
    """The winner's test score minus the best seed's, with its bootstrap confidence interval."""

    test_delta: float
    ci_low: float | None
    ci_high: float | None
    ci_level: float | None
    n: int | None


@dataclass(frozen=True)
class RunRow:
    """One run as the listing shows it (manifest + summary, or manifest + steps)."""

    path: Path
    folder: str
    name: str
    status: str
    reason: str | None
    started_at: datetime | None
    ended_at: datetime | None
    scorer: str | None
    optimizer: str | None
    steps: int | None
    best: Scores
    seed: Scores
    improvement: Improvement | None
    calls: int | None
    tokens: int | None
    cost_usd: float | None
    duration_s: float | None
    has_summary: bool
    best_prompt: Prompt | None = None
    seed_prompt: Prompt | None = None
    seed_prompts: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class Step:
    step: int
    best_score: float | None
    best_id: str | None
    mean_score: float | None
    proposed: int | None
    new_candidates: int | None
    calls: int | None
    tokens: int | None
    cost_usd: float | None
    elapsed_s: float | None


@dataclass(frozen=True)
class Candidate:
    id: str
    step: int
    origin: str
    text: str
    scores: Scores
    examples: int | None
    errors: int | None


@dataclass(frozen=True)
class Evaluation:
    candidate_id: str
    split: str
    example_id: str
    output: str | None
    score: float | None
    error: str | None


@dataclass(frozen=True)
class RunDetail:
    """Everything the details view needs. ``best``/``seed`` are the winner and the best seed from
    the summary; without a summary, the best train candidate so far and the best seed on train."""

    row: RunRow
    steps: tuple[Step, ...]
    candidates: tuple[Candidate, ...]
    test_evaluations: tuple[Evaluation, ...]
    best: Prompt | None
    seed: Prompt | None
    evaluations_read: bool


@dataclass
class Diagnostics:
    """What the reader noticed on the way: ``warnings`` (damaged files) and ``notes`` (folders
    that are not runs). The command prints both on stderr; the JSON document carries them."""

    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunFilter:
    name: str | None = None
    since: datetime | None = None
    statuses: tuple[str, ...] = ()
    last: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.name or self.since or self.statuses or self.last is not None)


# ---------------------------------------------------------------------------------------------
# Small tolerant readers


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _read_json(path: Path, diag: Diagnostics) -> dict[str, Any] | None:
    """A JSON object file, or None (with a warning) when it is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        diag.warnings.append(f"{path}: unreadable, ignored ({exc})")
        return None
    if not isinstance(data, dict):
        diag.warnings.append(f"{path}: not a JSON object, ignored")
        return None
    return data


def read_jsonl(path: Path, diag: Diagnostics) -> list[dict[str, Any]]:
    """Every well-formed line of a JSONL file; each bad line is skipped with ``file:line``."""
    records, warnings = read_jsonl_file(path)
    diag.warnings.extend(warnings)
    return records


# ---------------------------------------------------------------------------------------------
# Rows


def _scores(record: dict[str, Any]) -> Scores:
    return Scores(*(_num(record.get(s)) for s in SPLITS))


def _prompt(record: Any) -> Prompt | None:
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return None
    return Prompt(_str(record.get("id")), record["text"], _scores(record))


def _step(record: dict[str, Any]) -> Step | None:
    number = _int(record.get("step"))
    if number is None:
        return None
    new = _int(record.get("new_candidates"))
    return Step(
        step=number,
        best_score=_num(record.get("best_score")),
        best_id=_str(record.get("best_id")),
        # A step without new candidates has no mean (the writer puts 0.0 there).
        mean_score=None if new == 0 else _num(record.get("mean_score")),
        proposed=_int(record.get("proposed")),
        new_candidates=new,
        calls=_int(record.get("calls")),
        tokens=_int(record.get("tokens")),
        cost_usd=_num(record.get("cost_usd")),
        elapsed_s=_num(record.get("elapsed_s")),
    )


def read_steps(path: Path, diag: Diagnostics) -> tuple[Step, ...]:
    steps = (_step(r) for r in read_jsonl(path / "steps.jsonl", diag))
    # A resumed run writes its steps again; the last line for a step wins.
    by_number = {s.step: s for s in steps if s is not None}
    return tuple(by_number[n] for n in sorted(by_number))


def read_row(path: Path, diag: Diagnostics) -> RunRow | None:
    """The listing row of one run directory, or None (with a note or warning) if it is not one."""
    if not (path / "manifest.json").is_file():
        diag.notes.append(f"{path}: not a run directory (no manifest.json), ignored")
        return None
    manifest = _read_json(path / "manifest.json", diag)
    if manifest is None:
        diag.warnings.append(f"{path}: run skipped (its manifest.json cannot be read)")
        return None
    summary = _read_json(path / "summary.json", diag)
    models = _dict(manifest.get("models"))
    started, ended = _time(manifest.get("started_at")), _time(manifest.get("ended_at"))
    status = _str(manifest.get("status")) or "unknown"
    reason = _str(manifest.get("reason"))
    name = _str(manifest.get("name")) or path.name
    scorer, optimizer = _str(models.get("scorer")), _str(models.get("optimizer"))

    if summary is not None:
        usage = _dict(summary.get("usage"))
        best, seed = _prompt(summary.get("best")), _prompt(summary.get("best_seed"))
        seeds = summary.get("seeds")
        imp = _dict(summary.get("improvement"))
        delta = _num(imp.get("test_delta"))
        duration = _num(summary.get("duration_s"))
        return RunRow(
            path=path,
            folder=path.name,
            name=name,
            status=status,
            reason=reason if reason is not None else _str(summary.get("reason")),
            started_at=started,
            ended_at=ended,
            scorer=scorer,
            optimizer=optimizer,
            steps=_int(summary.get("steps_completed")),
            best=best.scores if best else Scores(),
            seed=seed.scores if seed else Scores(),
            improvement=None
            if delta is None
            else Improvement(
                delta,
                _num(imp.get("ci_low")),
                _num(imp.get("ci_high")),
                _num(imp.get("ci_level")),
                _int(imp.get("n")),
            ),
            calls=_int(usage.get("calls")),
            tokens=_int(usage.get("tokens")),
            cost_usd=_num(usage.get("cost_usd")),
            duration_s=duration if duration is not None else _span(started, ended),
            has_summary=True,
            best_prompt=best,
            seed_prompt=seed,
            seed_prompts=tuple(
                p for p in map(_prompt, seeds if isinstance(seeds, list) else []) if p
            ),
        )

    steps = read_steps(path, diag)
    last = steps[-1] if steps else None
    duration = _span(started, ended)
    if duration is None and last is not None:
        duration = last.elapsed_s
    return RunRow(
        path=path,
        folder=path.name,
        name=name,
        status=status,
        reason=reason,
        started_at=started,
        ended_at=ended,
        scorer=scorer,
        optimizer=optimizer,
        steps=last.step if last else None,
        best=Scores(train=last.best_score if last else None),
        seed=Scores(),
        improvement=None,
        calls=last.calls if last else None,
        tokens=last.tokens if last else None,
        cost_usd=last.cost_usd if last else None,
        duration_s=duration,
        has_summary=False,
    )


def _span(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _sort_key(row: RunRow) -> tuple[datetime, str]:
    return (row.started_at or datetime.min.replace(tzinfo=timezone.utc), row.folder)


def list_runs(
    runs_dir: Path, diag: Diagnostics, run_filter: RunFilter | None = None
) -> list[RunRow]:
    """Every run under ``runs_dir`` that passes the filter, newest first."""
    if not runs_dir.is_dir():
        raise RunDirError(
            f"{runs_dir}: no such folder of runs",
            hint="run `opro run SPEC` first, or point --runs-dir at the folder holding the runs",
        )
    rows = []
    for path in sorted(runs_dir.iterdir()):
        if not path.is_dir() or path.name.startswith("."):
            continue
        row = read_row(path, diag)
        if row is not None:
            rows.append(row)
    rows.sort(key=_sort_key, reverse=True)
    return apply_filter(rows, run_filter if run_filter is not None else RunFilter())


def apply_filter(rows: Sequence[RunRow], run_filter: RunFilter) -> list[RunRow]:
    kept = []
    for row in rows:
        if run_filter.name is not None and not (
            fnmatch.fnmatchcase(row.name, run_filter.name)
            or fnmatch.fnmatchcase(row.folder, run_filter.name)
        ):
            continue
        if run_filter.since is not None and (
            row.started_at is None or row.started_at < run_filter.since
        ):
            continue
        if run_filter.statuses and row.status not in run_filter.statuses:
            continue
        kept.append(row)
    return kept[: run_filter.last] if run_filter.last is not None else kept


# ---------------------------------------------------------------------------------------------
# Filters from the command line


_AGO = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """``2025-01-31``, ``2025-01-31T12:00`` (UTC unless an offset is given) or ``30m``/``12h``/
    ``7d``/``2w`` before ``now``."""
    value = text.strip()
    match = _AGO.match(value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    parsed = _time(value)
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
            if status not in STATUSES:
                raise UsageError(
                    f"--status: unknown status '{status}'", hint=f"use one of {', '.join(STATUSES)}"
                )
            statuses.append(status)
    return tuple(dict.fromkeys(statuses))


# ---------------------------------------------------------------------------------------------
# RUN arguments


def resolve_run(arg: str, runs_dir: Path) -> Path:
    """A run directory from a path, a folder name under ``runs_dir``, or a unique prefix or
    suffix of one."""
    given = Path(arg)
    if given.is_dir():
        if not (given / "manifest.json").is_file():
            raise RunDirError(
                f"{given}: not a run directory (no manifest.json)",
                hint="give a folder written by `opro run`",
            )
        return given
    how = f"list the runs with: opro report --runs-dir {runs_dir}"
    if not runs_dir.is_dir():
        raise RunDirError(f"{arg}: no such run (and no folder {runs_dir})", hint=how)
    folders = sorted(
        p for p in runs_dir.iterdir() if p.is_dir() and (p / "manifest.json").is_file()
    )
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


# ---------------------------------------------------------------------------------------------
# Details


def _candidate(record: dict[str, Any]) -> Candidate | None:
    cid, text, step = _str(record.get("id")), _str(record.get("text")), _int(record.get("step"))
    if cid is None or text is None or step is None:
        return None
    return Candidate(
        id=cid,
        step=step,
        origin=_str(record.get("origin")) or "optimizer",
        text=text,
        scores=Scores(train=_num(record.get("train_score"))),
        examples=_int(record.get("examples")),
        errors=_int(record.get("errors")),
    )


def _evaluation(record: dict[str, Any]) -> Evaluation | None:
    cid, split, example = (
        _str(record.get("candidate_id")),
        _str(record.get("split")),
        record.get("example_id"),
    )
    if cid is None or split is None or example is None:
        return None
    return Evaluation(
        candidate_id=cid,
        split=split,
        example_id=str(example),
        output=_str(record.get("output")),
        score=_num(record.get("score")),
        error=_str(record.get("error")),
    )


def load_detail(row: RunRow, diag: Diagnostics, *, evaluations: bool = True) -> RunDetail:
    """Steps and candidates of a run, and with ``evaluations`` its val/test scores per candidate
    and the test answers of the winner and the seed (reads ``evaluations.jsonl``)."""
    path = row.path
    steps = read_steps(path, diag)
    by_id: dict[str, Candidate] = {}
    for record in read_jsonl(path / "candidates.jsonl", diag):
        candidate = _candidate(record)
        if candidate is not None:
            by_id[candidate.id] = candidate

    known: dict[str, dict[str, float]] = {}
    for prompt in (row.best_prompt, *row.seed_prompts):
        if prompt is not None and prompt.id is not None:
            known[prompt.id] = {
                s: v for s in ("val", "test") if (v := prompt.scores.get(s)) is not None
            }
    tests: list[Evaluation] = []
    if evaluations:
        sums: dict[tuple[str, str], list[float]] = {}
        latest: dict[tuple[str, str, str], Evaluation] = {}
        for record in read_jsonl(path / "evaluations.jsonl", diag):
            ev = _evaluation(record)
            if ev is not None and ev.split in ("val", "test"):
                latest[(ev.candidate_id, ev.split, ev.example_id)] = ev
        for ev in latest.values():
            sums.setdefault((ev.candidate_id, ev.split), []).append(ev.score or 0.0)
            if ev.split == "test":
                tests.append(ev)
        for (cid, split), values in sums.items():
            known.setdefault(cid, {})[split] = sum(values) / len(values)

    # Only the few candidates scored on val/test change (a listing charts thousands).
    candidates = tuple(
        replace(c, scores=replace(c.scores, **known[c.id])) if known.get(c.id) else c
        for c in by_id.values()
    )
    best, seed = row.best_prompt, row.seed_prompt
    if best is None and candidates:
        top = max(candidates, key=lambda c: (c.scores.train or 0.0, -c.step))
        best = Prompt(top.id, top.text, top.scores)
    seeds = [c for c in candidates if c.origin == "seed"]
    if seed is None and seeds:
        top = max(seeds, key=lambda c: c.scores.train or 0.0)
        seed = Prompt(top.id, top.text, top.scores)
    return RunDetail(
        row=row,
        steps=steps,
        candidates=candidates,
        test_evaluations=tuple(tests),
        best=best,
        seed=seed,
        evaluations_read=evaluations,
    )
