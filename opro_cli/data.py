"""Datasets: read .jsonl/.json/.csv/.parquet, render inputs, make seeded train/val/test splits."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opro_cli.errors import DatasetError
from opro_cli.spec import DatasetSpec

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


@dataclass(frozen=True)
class Example:
    id: str
    input: str
    target: str
    options: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Splits:
    train: tuple[Example, ...]
    val: tuple[Example, ...]
    test: tuple[Example, ...]
    sha256: str

    def get(self, name: str) -> tuple[Example, ...]:
        split: tuple[Example, ...] = getattr(self, name)
        return split


def load_splits(spec: DatasetSpec) -> Splits:
    """Read the dataset of a (path-resolved) spec and split it as the spec says."""
    if spec.split.uses_files:
        paths = [Path(str(getattr(spec.split, name))) for name in ("train", "val", "test")]
        parts = [_examples(_read_records(p), spec, p) for p in paths]
        parts = [_limited(_shuffled(part, spec.seed), spec.limit) for part in parts]
        train, val, test = parts
        digest = _sha256_of(paths)
        _check_not_empty({"train": train}, spec, paths[0])
    else:
        assert spec.path is not None  # guaranteed by DatasetSpec validation
        path = Path(spec.path)
        examples = _limited(
            _shuffled(_examples(_read_records(path), spec, path), spec.seed), spec.limit
        )
        train, val, test = _split_by_fraction(examples, spec, path)
        digest = _sha256_of([path])
    return Splits(tuple(train), tuple(val), tuple(test), digest)


def _split_by_fraction(
    examples: list[Example], spec: DatasetSpec, path: Path
) -> tuple[list[Example], list[Example], list[Example]]:
    n = len(examples)
    fractions = {k: float(getattr(spec.split, k)) for k in ("train", "val", "test")}
    n_val = round(n * fractions["val"])
    n_test = round(n * fractions["test"])
    n_train = n - n_val - n_test
    parts = {
        "train": examples[:n_train],
        "val": examples[n_train : n_train + n_val],
        "test": examples[n_train + n_val :],
    }
    wanted = {k: v for k, v in parts.items() if fractions[k] > 0}
    _check_not_empty(wanted, spec, path, total=n)
    return parts["train"], parts["val"], parts["test"]


def _check_not_empty(
    parts: Mapping[str, Sequence[Example]], spec: DatasetSpec, path: Path, total: int | None = None
) -> None:
    for name, part in parts.items():
        if not part:
            size = f" of {total} examples" if total is not None else ""
            raise DatasetError(
                f"{path}: the {name} split is empty{size}",
                hint="add examples, or change dataset.split (a fraction of 0 turns a split off)",
            )


def _shuffled(examples: list[Example], seed: int) -> list[Example]:
    out = list(examples)
    random.Random(seed).shuffle(out)
    return out


def _limited(examples: list[Example], limit: int | None) -> list[Example]:
    return examples[:limit] if limit is not None else examples


def _sha256_of(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Reading


def _read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise DatasetError(f"{path}: dataset file not found", hint="check dataset.path in the spec")
    if path.is_dir():
        raise DatasetError(
            f"{path}: is a folder, not a dataset file",
            hint="point dataset.path at a .jsonl, .json, .csv or .parquet file",
        )
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DatasetError(
            f"{path}: unsupported file type '{suffix}'",
            hint=f"use one of {', '.join(SUFFIXES)}",
        )
    try:
        if suffix == ".jsonl":
            records = _read_jsonl(path)
        elif suffix == ".json":
            records = _read_json(path)
        elif suffix == ".csv":
            records = _read_csv(path)
        else:
            records = _read_parquet(path)
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text", hint="re-save the file as UTF-8") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not records:
        raise DatasetError(f"{path}: the dataset is empty", hint="add labelled examples")
    return records


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"{path}:{number}: not valid JSON ({exc.msg})",
                    hint="each line must be one JSON object",
                ) from None
            if not isinstance(record, dict):
                raise DatasetError(
                    f"{path}:{number}: a line is a {type(record).__name__}, not an object",
                    hint='write each example as {"input": ..., "target": ...}',
                )
            records.append(record)
    return records


def _read_json(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("examples"), list):
        data = data["examples"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DatasetError(
            f"{path}: expected a list of objects, or an object with an 'examples' list",
            hint='e.g. [{"input": "...", "target": "..."}]',
        )
    return data


def _read_csv(path: Path) -> list[dict[str, Any]]:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        return []
    except pd.errors.ParserError as exc:
        raise DatasetError(f"{path}: malformed CSV ({str(exc).strip()})") from None
    records: list[dict[str, Any]] = frame.to_dict(orient="records")
    return records


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise DatasetError(
            f"{path}: reading parquet needs pyarrow", hint='pip install "opro-cli[parquet]"'
        ) from None
    except Exception as exc:  # pyarrow raises many kinds for a corrupt file
        raise DatasetError(f"{path}: cannot read parquet ({exc})") from None
    records: list[dict[str, Any]] = frame.to_dict(orient="records")
    return records


# ---------------------------------------------------------------------------------------------
# Records -> examples


def _examples(records: list[dict[str, Any]], spec: DatasetSpec, path: Path) -> list[Example]:
    _check_columns(records[0], spec, path)
    examples = []
    seen: dict[str, int] = {}
    for row, record in enumerate(records, start=1):
        example = _example(record, row, spec, path)
        if example.id in seen:
            raise DatasetError(
                f"{path}: row {row}: id '{example.id}' repeats row {seen[example.id]}",
                hint=f"make the '{spec.id}' column unique, or drop dataset.id",
            )
        seen[example.id] = row
        examples.append(example)
    return examples


def _check_columns(first: Mapping[str, Any], spec: DatasetSpec, path: Path) -> None:
    needed = spec.template_fields or [spec.input]
    needed = [*needed, spec.target]
    for optional in (spec.id, spec.options):
        if optional:
            needed.append(optional)
    missing = [c for c in dict.fromkeys(needed) if c not in first]
    if missing:
        have = ", ".join(sorted(map(str, first))) or "(none)"
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)} (the file has: {have})",
            hint="fix dataset.input/target/id/options in the spec, or the file's columns",
        )


def _example(record: Mapping[str, Any], row: int, spec: DatasetSpec, path: Path) -> Example:
    where = f"{path}: row {row}"
    fields = spec.template_fields
    try:
        if fields:
            text = spec.input.format_map({f: _text(record.get(f)) for f in fields})
        else:
            text = _text(record.get(spec.input))
    except (KeyError, IndexError, ValueError) as exc:
        raise DatasetError(f"{where}: cannot render dataset.input ({exc})") from None
    target = record.get(spec.target)
    if _is_missing(target):
        raise DatasetError(
            f"{where}: the target '{spec.target}' is empty", hint="label every example"
        )
    example_id = _text(record.get(spec.id)) if spec.id else f"row-{row}"
    options = _options(record.get(spec.options), where) if spec.options else None
    return Example(id=example_id, input=text, target=_text(target), options=options)


def _options(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = [line for line in value.splitlines() if line.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise DatasetError(
            f"{where}: options must be a non-empty list", hint='e.g. ["Paris", "Rome", "Oslo"]'
        )
    return tuple(_text(v) for v in value)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
