"""Reading a run directory: strict for the JSON files, tolerant for the JSONL files."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from opro_cli.errors import RunDirError
from opro_cli.rundir.layout import (
    CANDIDATES,
    CONFIG,
    EVALUATIONS,
    MANIFEST,
    META_PROMPTS,
    SCHEMA_VERSION,
    STEPS,
    SUMMARY,
)
from opro_cli.rundir.records import CandidateRecord, Evaluation, MetaPromptRecord, StepRecord
from opro_cli.rundir.summary import Manifest, Summary


def is_run_dir(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def read_manifest(run_dir: Path) -> Manifest:
    """The run's manifest; ``RunDirError`` when the folder is not a run or the file is damaged."""
    if not is_run_dir(run_dir):
        raise RunDirError(
            f"{run_dir}: not a run directory (no {MANIFEST})",
            hint="give a folder written by `opro run`",
        )
    data = _json_object(run_dir / MANIFEST)
    manifest = Manifest.from_json(data, folder=run_dir.name)
    if manifest.schema_version > SCHEMA_VERSION:
        raise RunDirError(
            f"{run_dir / MANIFEST}: written by a newer opro (run format "
            f"{manifest.schema_version}; this opro reads up to {SCHEMA_VERSION})",
            hint="upgrade opro: pip install -U opro-cli",
        )
    return manifest


def read_summary(run_dir: Path) -> Summary | None:
    """The run's summary; None while the run has none; ``RunDirError`` when it is damaged."""
    path = run_dir / SUMMARY
    if not path.exists():
        return None
    summary = Summary.from_json(_json_object(path))
    if summary is None:
        raise RunDirError(
            f"{path}: damaged (the status or the winning prompt is missing)",
            hint=_DAMAGED_HINT,
        )
    return summary


R = TypeVar("R")


def read_jsonl(
    path: Path,
    parse: Callable[[Mapping[str, Any]], R | None],
    keep: Callable[[str], bool] | None = None,
) -> tuple[list[R], list[str]]:
    """Every well-formed record of a JSONL file, and a warning naming ``file:line`` for each line
    skipped. A missing file has no records; an unreadable one is one warning. ``keep`` picks
    lines by their text before any is parsed (lines it refuses are neither read nor warned
    about)."""
    records: list[R] = []
    warnings: list[str] = []
    for number, line, problem in _lines(path):
        if problem is not None:
            warnings.append(problem)
            continue
        if keep is not None and not keep(line):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            warnings.append(f"{path}:{number}: corrupt line skipped")
            continue
        record = parse(data) if isinstance(data, dict) else None
        if record is None:
            warnings.append(f"{path}:{number}: not a valid record, skipped")
            continue
        records.append(record)
    return records, warnings


def read_evaluations(
    run_dir: Path, splits: Collection[str] | None = None
) -> tuple[list[Evaluation], list[str]]:
    """The scorer calls; with ``splits``, only those on these splits, picked from each line's
    text before parsing (``"split": "test"`` as opro writes it), which keeps reading the few
    test answers of a large file fast."""
    keep = None
    if splits is not None:
        needles = tuple(dumps({"split": s})[1:-1] for s in splits)

        def keep(line: str) -> bool:
            return any(needle in line for needle in needles)

    return read_jsonl(run_dir / EVALUATIONS, Evaluation.from_json, keep)


def read_candidates(run_dir: Path) -> tuple[list[CandidateRecord], list[str]]:
    return read_jsonl(run_dir / CANDIDATES, CandidateRecord.from_json)


def read_steps(run_dir: Path) -> tuple[list[StepRecord], list[str]]:
    """One record per step, in order; a resumed run writes its steps again and the last wins."""
    records, warnings = read_jsonl(run_dir / STEPS, StepRecord.from_json)
    by_step = {r.step: r for r in records}
    return [by_step[n] for n in sorted(by_step)], warnings


def read_meta_prompts(run_dir: Path) -> tuple[list[MetaPromptRecord], list[str]]:
    return read_jsonl(run_dir / META_PROMPTS, MetaPromptRecord.from_json)


def read_config_text(run_dir: Path) -> str:
    path = run_dir / CONFIG
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing", hint=_DAMAGED_HINT) from None
    except UnicodeDecodeError:
        raise RunDirError(f"{path}: damaged (not UTF-8 text)", hint=_DAMAGED_HINT) from None
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc.strerror})") from None


def to_line(record: Any) -> str:
    """A record as one JSONL line (with its newline)."""
    return dumps(record.to_json()) + "\n"


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


_DAMAGED_HINT = "the run directory was edited or damaged; start a new run, or restore the file"


def _json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing", hint=_DAMAGED_HINT) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{path}: damaged, not valid JSON ({exc})", hint=_DAMAGED_HINT) from None
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: damaged, not a JSON object", hint=_DAMAGED_HINT)
    return data


def _lines(path: Path) -> Iterator[tuple[int, str, str | None]]:
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    except OSError as exc:
        yield 0, "", f"{path}: unreadable, ignored ({exc.strerror})"
        return
    with handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line, None
