"""Datasets: render each row into an ``Example`` and split them into train, val and test.

An example's split is a function of its id and the dataset seed alone (a hash), so adding,
removing or reordering rows never moves an existing example to another split: a test split
stays unseen by the prompts chosen on an earlier version of the data. Without an id column the
id is a hash of the example's input and target (never the row number, which shifts). Split
sizes follow the fractions on average. ``split.stratify`` trades that stability for exact label
proportions (see ``_stratified``). Within each split, examples are in a fixed order drawn from
their ids, the same for every candidate.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opro_cli.dataset_files import read_records
from opro_cli.errors import DatasetError
from opro_cli.spec import DatasetSpec

SPLIT_NAMES = ("train", "val", "test")
SHOWN = 5  # rows named in a message before "..."


@dataclass(frozen=True)
class Example:
    id: str
    input: str
    target: str
    options: tuple[str, ...] | None = None
    # the row as read (every column), for custom metrics that look beyond input and target
    fields: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Splits:
    train: tuple[Example, ...]
    val: tuple[Example, ...]
    test: tuple[Example, ...]
    sha256: str
    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> tuple[Example, ...]:
        split: tuple[Example, ...] = getattr(self, name)
        return split

    @property
    def test_ids_sha256(self) -> str:
        """Identifies the test examples: runs with the same value were tested on the same set."""
        return ids_digest(e.id for e in self.test)


def ids_digest(ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def load_splits(spec: DatasetSpec) -> Splits:
    """Read the dataset of a (path-resolved) spec and split it as the spec says."""
    warnings: list[str] = []
    if spec.split.uses_files:
        paths = [Path(str(getattr(spec.split, name))) for name in SPLIT_NAMES]
        parts = [
            _limited(_ordered(_examples(read_records(p), spec, p, warnings), spec.seed), spec)
            for p in paths
        ]
        train, val, test = parts
        digest = _sha256_of(paths)
        _check_not_empty({"train": train}, paths[0])
    else:
        if spec.path is None:  # DatasetSpec validation guarantees a path without split files
            raise DatasetError("dataset: no path", hint="give dataset.path")
        path = Path(spec.path)
        examples = _limited(_examples(read_records(path), spec, path, warnings), spec)
        train, val, test = _split_by_fraction(examples, spec, path)
        digest = _sha256_of([path])
    warnings += _shared_inputs({"train": train, "val": val, "test": test})
    return Splits(tuple(train), tuple(val), tuple(test), digest, tuple(warnings))


def unit(*parts: object) -> float:
    """A number in [0, 1) drawn from ``parts`` alone: the same on every machine and run."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _ordered(examples: list[Example], seed: int) -> list[Example]:
    return sorted(examples, key=lambda e: unit(seed, "order", e.id))


def _limited(examples: list[Example], spec: DatasetSpec) -> list[Example]:
    """With ``limit``: the ``limit`` examples drawn first by id (the same ones whatever the
    file's order)."""
    if spec.limit is None:
        return examples
    drawn = sorted(examples, key=lambda e: unit(spec.seed, "limit", e.id))[: spec.limit]
    ids = {e.id for e in drawn}
    return [e for e in examples if e.id in ids]


def _split_by_fraction(
    examples: list[Example], spec: DatasetSpec, path: Path
) -> tuple[list[Example], list[Example], list[Example]]:
    fractions = {k: float(getattr(spec.split, k)) for k in SPLIT_NAMES}
    if spec.split.stratify:
        parts = _stratified(examples, fractions, spec.seed)
    else:
        parts = {name: [] for name in SPLIT_NAMES}
        for example in examples:
            parts[_split_of(unit(spec.seed, "split", example.id), fractions)].append(example)
    parts = {name: _ordered(part, spec.seed) for name, part in parts.items()}
    wanted = {k: v for k, v in parts.items() if fractions[k] > 0}
    _check_not_empty(wanted, path, total=len(examples))
    return parts["train"], parts["val"], parts["test"]


def _split_of(u: float, fractions: Mapping[str, float]) -> str:
    if u < fractions["train"]:
        return "train"
    if u < fractions["train"] + fractions["val"]:
        return "val"
    return "test"


def _stratified(
    examples: list[Example], fractions: Mapping[str, float], seed: int
) -> dict[str, list[Example]]:
    """Each label's examples, in their drawn order, cut by the fractions: exact label
    proportions in every split. Unlike the plain split, adding rows of a label can move that
    label's examples that lie near a cut into the neighbouring split."""
    by_label: dict[str, list[Example]] = {}
    for example in examples:
        by_label.setdefault(" ".join(example.target.casefold().split()), []).append(example)
    parts: dict[str, list[Example]] = {name: [] for name in SPLIT_NAMES}
    for label in sorted(by_label):
        group = sorted(by_label[label], key=lambda e: unit(seed, "split", e.id))
        n = len(group)
        n_test = round(n * fractions["test"])
        n_val = round(n * fractions["val"])
        n_train = n - n_val - n_test  # train takes what rounding leaves
        parts["train"] += group[:n_train]
        parts["val"] += group[n_train : n_train + n_val]
        parts["test"] += group[n_train + n_val :]
    return parts


def _check_not_empty(
    parts: Mapping[str, Sequence[Example]], path: Path, total: int | None = None
) -> None:
    for name, part in parts.items():
        if not part:
            size = f" of {total} examples" if total is not None else ""
            raise DatasetError(
                f"{path}: the {name} split is empty{size}",
                hint="add examples, or change dataset.split (a fraction of 0 turns a split off)",
            )


def _shared_inputs(parts: Mapping[str, Sequence[Example]]) -> list[str]:
    """A warning when one input is in two splits: a test example the prompt was chosen on."""
    seen: dict[str, str] = {}
    shared: list[str] = []
    for name, part in parts.items():
        for example in part:
            first = seen.setdefault(example.input, f"{name} '{example.id}'")
            if not first.startswith(name) and example.input not in shared:
                shared.append(example.input)
    if not shared:
        return []
    return [
        f"{len(shared)} input(s) appear in more than one split (the same question with another "
        f"id or target), e.g. {shared[0][:60]!r}: test scores of those examples are not unseen "
        "-> remove the duplicates from the data"
    ]


def _sha256_of(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Records -> examples


def _examples(
    records: list[dict[str, Any]], spec: DatasetSpec, path: Path, warnings: list[str]
) -> list[Example]:
    _check_columns(records, spec, path)
    examples: list[Example] = []
    seen: dict[str, int] = {}
    repeated: list[int] = []
    empty: list[int] = []
    for row, record in enumerate(records, start=1):
        example = _example(record, row, spec, path)
        if not example.input.strip():
            empty.append(row)
        if example.id in seen:
            if spec.id:
                raise DatasetError(
                    f"{path}: row {row}: id '{example.id}' repeats row {seen[example.id]}",
                    hint=f"make the '{spec.id}' column unique, or drop dataset.id",
                )
            repeated.append(row)  # the same input and target again: counted once
            continue
        seen[example.id] = row
        examples.append(example)
    if empty:
        raise DatasetError(
            f"{path}: {_rows(empty)}: the input is empty",
            hint=f"fill in dataset.input ('{spec.input}') for every row, or remove those rows",
        )
    if repeated:
        warnings.append(
            f"{path}: {_rows(repeated)} repeat earlier rows (same input and target): each "
            "example is used once"
        )
    return examples


def _rows(rows: Sequence[int]) -> str:
    shown = ", ".join(map(str, rows[:SHOWN])) + (", ..." if len(rows) > SHOWN else "")
    return f"row {shown}" if len(rows) == 1 else f"rows {shown} ({len(rows)} in all)"


def _check_columns(records: Sequence[Mapping[str, Any]], spec: DatasetSpec, path: Path) -> None:
    needed = spec.template_fields or [spec.input]
    needed = [*needed, spec.target]
    for optional in (spec.id, spec.options):
        if optional:
            needed.append(optional)
    columns = set(records[0])
    missing = [c for c in dict.fromkeys(needed) if c not in columns]
    if missing:
        have = ", ".join(sorted(map(str, columns))) or "(none)"
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)} (the file has: {have})",
            hint="fix dataset.input/target/id/options in the spec, or the file's columns",
        )


def _example(record: Mapping[str, Any], row: int, spec: DatasetSpec, path: Path) -> Example:
    where = f"{path}: row {row}"
    names = spec.template_fields
    try:
        if names:
            text = spec.input.format_map({f: _text(record.get(f)) for f in names})
            if all(_is_missing(record.get(f)) for f in names):
                text = ""
        else:
            text = _text(record.get(spec.input))
    except (KeyError, IndexError, ValueError) as exc:
        raise DatasetError(f"{where}: cannot render dataset.input ({exc})") from None
    target = record.get(spec.target)
    if _is_missing(target):
        raise DatasetError(
            f"{where}: the target '{spec.target}' is empty", hint="label every example"
        )
    target_text = _text(target)
    example_id = _text(record.get(spec.id)) if spec.id else content_id(text, target_text)
    options = _options(record.get(spec.options), where) if spec.options else None
    return Example(example_id, text, target_text, options, dict(record))


def content_id(input_text: str, target: str) -> str:
    """An example's id when the data has none: a hash of its input and target."""
    digest = hashlib.sha256(json.dumps([input_text, target]).encode("utf-8")).hexdigest()
    return f"ex-{digest[:12]}"


def _options(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = [line for line in value.splitlines() if line.strip()]
    elif _is_sequence(value):
        value = list(value)  # e.g. the numpy array pandas reads a Parquet list column as
    if not isinstance(value, list | tuple) or not value:
        raise DatasetError(
            f"{where}: options must be a non-empty list", hint='e.g. ["Paris", "Rome", "Oslo"]'
        )
    return tuple(_text(v) for v in value)


def _is_sequence(value: Any) -> bool:
    return hasattr(value, "__len__") and hasattr(value, "tolist") and not isinstance(value, str)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str:
    if _is_sequence(value):
        value = value.tolist()
    if _is_missing(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
