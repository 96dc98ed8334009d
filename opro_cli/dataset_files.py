"""Reading dataset files into records: .jsonl, .json, .csv, .parquet.

Refused before reading: a missing file, a folder, anything that is not a regular file (a FIFO or
a device would be read until memory runs out), a file over ``MAX_DATASET_BYTES``, an unknown
suffix. A UTF-8 byte-order mark is accepted in every text format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opro_cli.errors import DatasetError

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
MAX_DATASET_BYTES = 512 * 1024 * 1024  # far above "a few thousand examples"; says so if hit


def read_records(path: Path) -> list[dict[str, Any]]:
    """The file's rows as dicts; ``DatasetError`` naming the file (and line) otherwise."""
    _check_file(path)
    suffix = path.suffix.lower()
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


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DatasetError(f"{path}: dataset file not found", hint="check dataset.path in the spec")
    if path.is_dir():
        raise DatasetError(
            f"{path}: is a folder, not a dataset file",
            hint="point dataset.path at a .jsonl, .json, .csv or .parquet file",
        )
    if not path.is_file():
        raise DatasetError(
            f"{path}: not a regular file (a pipe, socket or device)",
            hint="save the data to a file and point dataset.path at it",
        )
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DatasetError(
            f"{path}: unsupported file type '{suffix}'", hint=f"use one of {', '.join(SUFFIXES)}"
        )
    size = path.stat().st_size
    if size > MAX_DATASET_BYTES:
        raise DatasetError(
            f"{path}: {size / 2**20:,.0f} MiB is over the {MAX_DATASET_BYTES // 2**20} MiB limit "
            "for a dataset",
            hint="use a sample (dataset.limit reads all of the file first): a few thousand "
            "labelled examples are plenty for prompt optimization",
        )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    with path.open(encoding="utf-8-sig") as handle:
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
        data = json.loads(path.read_text(encoding="utf-8-sig"))
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
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
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
