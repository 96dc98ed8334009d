"""Read run directories into the report's rows and details, read-only and tolerant.

A finished run is described by ``manifest.json`` + ``summary.json``. A run that is still running,
failed or was interrupted has no summary: what can be known is taken from ``steps.jsonl`` (and,
for details, ``candidates.jsonl`` and ``evaluations.jsonl``). A damaged file or a corrupt JSONL
line is skipped with a warning naming it (the same message ``opro export`` and ``opro resume``
stop with); a folder without ``manifest.json`` is ignored with a note. Every text shown (prompts,
answers, reasons) is filtered for secrets as it is read, so no renderer can forget it.

Listing reads only ``manifest.json`` and ``summary.json`` per run (plus ``steps.jsonl`` when there
is no summary), so ``opro report`` over hundreds of runs stays fast. The files are read through
``opro_cli.rundir``, which needs only the standard library: no pydantic, pandas or litellm.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from opro_cli import rundir
from opro_cli.errors import RunDirError
from opro_cli.rundir import (
    Evaluation,
    Improvement,
    Manifest,
    PromptScores,
    StepRecord,
    Summary,
)
from opro_cli.secrets import redact


@dataclass(frozen=True)
class Scores:
    train: float | None = None
    val: float | None = None
    test: float | None = None

    def get(self, split: str) -> float | None:
        value: float | None = getattr(self, split)
        return value

    @classmethod
    def of(cls, prompt: PromptScores | None) -> Scores:
        if prompt is None:
            return cls()
        return cls(prompt.train, prompt.val, prompt.test)


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
    best_prompt: PromptScores | None = None
    seed_prompt: PromptScores | None = None
    seed_prompts: tuple[PromptScores, ...] = ()
    test_ids_sha256: str | None = None  # which examples it was tested on


@dataclass(frozen=True)
class CandidateRow:
    """A candidate with every score the run has for it (val and test for the finalists)."""

    id: str
    step: int
    origin: str
    text: str
    scores: Scores
    examples: int | None
    errors: int | None


@dataclass(frozen=True)
class RunDetail:
    """Everything the details view needs. ``best``/``seed`` are the winner and the best seed from
    the summary; without a summary, the best train candidate so far and the best seed on train."""

    row: RunRow
    steps: tuple[StepRecord, ...]
    candidates: tuple[CandidateRow, ...]
    test_evaluations: tuple[Evaluation, ...]
    best: PromptScores | None
    seed: PromptScores | None
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
# Rows


def read_row(path: Path, diag: Diagnostics) -> RunRow | None:
    """The listing row of one run directory, or None (with a note or warning) if it is not one."""
    if not rundir.is_run_dir(path):
        diag.notes.append(f"{path}: not a run directory (no {rundir.MANIFEST}), ignored")
        return None
    try:
        manifest = rundir.read_manifest(path)
    except RunDirError as exc:
        diag.warnings.append(f"{exc}; run skipped")
        return None
    try:
        summary = rundir.read_summary(path)
    except RunDirError as exc:
        diag.warnings.append(f"{exc}; shown without its summary")
        summary = None
    if summary is not None:
        return _finished_row(path, manifest, summary)
    steps = read_steps(path, diag)
    last = steps[-1] if steps else None
    duration = _span(manifest.started, manifest.ended)
    if duration is None and last is not None:
        duration = last.elapsed_s
    return _row(
        path,
        manifest,
        reason=_clean(manifest.reason),
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


def _row(path: Path, manifest: Manifest, **numbers: Any) -> RunRow:
    return RunRow(
        path=path,
        folder=path.name,
        name=manifest.name,
        status=manifest.status,
        started_at=manifest.started,
        ended_at=manifest.ended,
        scorer=manifest.scorer,
        optimizer=manifest.optimizer,
        test_ids_sha256=manifest.dataset.test_ids_sha256,
        **numbers,
    )


def _finished_row(path: Path, manifest: Manifest, summary: Summary) -> RunRow:
    """(Prompt texts and reasons are filtered for secrets here, once: a report leaves the
    machine.)"""
    usage = summary.usage
    duration = summary.duration_s
    if duration is None:
        duration = _span(manifest.started, manifest.ended)
    return _row(
        path,
        manifest,
        reason=_clean(manifest.reason if manifest.reason is not None else summary.reason),
        steps=summary.steps_completed,
        best=Scores.of(summary.best),
        seed=Scores.of(summary.best_seed),
        improvement=summary.improvement,
        calls=usage.calls,
        tokens=usage.tokens,
        cost_usd=usage.cost_usd,
        duration_s=duration,
        has_summary=True,
        best_prompt=_clean_prompt(summary.best),
        seed_prompt=_clean_prompt(summary.best_seed),
        seed_prompts=tuple(_clean_prompt(p) for p in summary.seeds),
    )


def _clean(text: str | None) -> str | None:
    return None if text is None else redact(text)


def _clean_prompt(prompt: PromptScores) -> PromptScores:
    return replace(prompt, text=redact(prompt.text))


def read_steps(path: Path, diag: Diagnostics) -> tuple[StepRecord, ...]:
    steps, warnings = rundir.read_steps(path)
    diag.warnings.extend(warnings)
    return tuple(steps)


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
# Details


def load_detail(
    row: RunRow, diag: Diagnostics, *, evaluations: bool = True, lines_of_final_splits: bool = False
) -> RunDetail:
    """Steps and candidates of a run, and with ``evaluations`` its val/test scores per candidate
    and the test answers of the winner and the seed (reads ``evaluations.jsonl``; with
    ``lines_of_final_splits``, only its val and test lines, picked by text before parsing, which
    a listing of many runs needs to stay fast)."""
    path = row.path
    steps = read_steps(path, diag)
    records, warnings = rundir.read_candidates(path)
    diag.warnings.extend(warnings)
    by_id = {
        r.id: CandidateRow(
            r.id,
            r.step,
            r.origin,
            redact(r.text),
            Scores(train=r.train_score),
            r.examples,
            r.errors,
        )
        for r in records
    }

    known: dict[str, dict[str, float]] = {}
    for prompt in (row.best_prompt, *row.seed_prompts):
        if prompt is not None and prompt.id is not None:
            known[prompt.id] = {s: v for s in ("val", "test") if (v := prompt.score(s)) is not None}
    tests: list[Evaluation] = []
    if evaluations:
        splits = ("val", "test") if lines_of_final_splits else None
        records_read, warnings = rundir.read_evaluations(path, splits)
        diag.warnings.extend(warnings)
        latest = {e.key: e for e in records_read if e.split in ("val", "test")}
        sums: dict[tuple[str, str], list[float]] = {}
        for ev in latest.values():
            if ev.score is not None:  # a failed call is missing, not wrong
                sums.setdefault((ev.candidate_id, ev.split), []).append(ev.score)
            if ev.split == "test":
                tests.append(replace(ev, output=_clean(ev.output), error=_clean(ev.error)))
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
        best = _prompt(top)
    seeds = [c for c in candidates if c.origin == "seed"]
    if seed is None and seeds:
        seed = _prompt(max(seeds, key=lambda c: c.scores.train or 0.0))
    return RunDetail(
        row=row,
        steps=steps,
        candidates=candidates,
        test_evaluations=tuple(tests),
        best=best,
        seed=seed,
        evaluations_read=evaluations,
    )


def _prompt(c: CandidateRow) -> PromptScores:
    return PromptScores(
        c.id,
        c.text,
        c.step,
        "seed" if c.origin == "seed" else "optimizer",
        c.scores.train,
        c.scores.val,
        c.scores.test,
    )
