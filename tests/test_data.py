from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from opro_cli.data import load_splits
from opro_cli.errors import DatasetError
from opro_cli.spec import DatasetSpec, SplitSpec


def rows(n: int) -> list[dict[str, str]]:
    return [{"id": f"x{i}", "q": f"question {i}", "a": str(i % 3)} for i in range(n)]


def jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def spec(path: Path, **kw) -> DatasetSpec:
    base = {"path": str(path), "input": "q", "target": "a", "id": "id"}
    return DatasetSpec.model_validate({**base, **kw})


def test_fraction_split_is_seeded_disjoint_and_complete(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "d.jsonl", rows(20))
    splits = load_splits(spec(path, seed=1))
    again = load_splits(spec(path, seed=1))
    other = load_splits(spec(path, seed=2))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (10, 4, 6)
    ids = [e.id for part in (splits.train, splits.val, splits.test) for e in part]
    assert sorted(ids) == sorted(f"x{i}" for i in range(20))
    assert splits == again
    assert [e.id for e in splits.train] != [e.id for e in other.train]
    assert len(splits.sha256) == 64


def test_template_renders_columns(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "d.jsonl", [{"question": "2+2?", "options": "A) 4", "a": "A"}] * 4)
    splits = load_splits(
        DatasetSpec(
            path=str(path),
            input="Q: {question}\nOptions: {options}",
            target="a",
            split=SplitSpec(train=1.0, val=0.0, test=0.0),
        )
    )
    assert splits.train[0].input == "Q: 2+2?\nOptions: A) 4"
    assert splits.train[0].id.startswith("row-")


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_other_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d{suffix}"
    frame = pd.DataFrame(rows(10))
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".json":
        path.write_text(json.dumps({"examples": rows(10)}))
    else:
        frame.to_parquet(path)
    splits = load_splits(spec(path))
    assert len(splits.train) + len(splits.val) + len(splits.test) == 10
    assert {e.target for e in splits.train} <= {"0", "1", "2"}


def test_limit_and_zero_fraction(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "d.jsonl", rows(50))
    splits = load_splits(spec(path, limit=10, split={"train": 0.8, "val": 0.0, "test": 0.2}))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (8, 0, 2)


def test_options_column(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "d.jsonl", [{"q": "x", "a": "(A)", "o": ["yes", "no"]}] * 3)
    splits = load_splits(
        DatasetSpec(
            path=str(path),
            input="q",
            target="a",
            options="o",
            split=SplitSpec(train=1.0, val=0.0, test=0.0),
        )
    )
    assert splits.train[0].options == ("yes", "no")


@pytest.mark.parametrize(
    ("content", "kw", "expected"),
    [
        (None, {}, "dataset file not found"),
        ("", {}, "the dataset is empty"),
        ('{"q": 1}\nnot json\n', {}, "d.jsonl:2: not valid JSON"),
        ("[1, 2]\n", {}, "not an object"),
        ('{"q": "a", "a": "b", "id": "1"}\n', {"target": "label"}, "missing column(s) label"),
        ('{"q": "a", "a": "b", "id": "1"}\n' * 2, {}, "id '1' repeats row 1"),
        ('{"q": "a", "a": "", "id": "1"}\n', {}, "the target 'a' is empty"),
        ('{"q": "a", "a": "b", "id": "1"}\n', {}, "split is empty"),
    ],
)
def test_bad_datasets(tmp_path: Path, content: str | None, kw: dict, expected: str) -> None:
    path = tmp_path / "d.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DatasetError) as info:
        load_splits(spec(path, **kw))
    assert expected in str(info.value)


def test_non_utf8_and_unknown_suffix(tmp_path: Path) -> None:
    bad = tmp_path / "d.csv"
    bad.write_bytes(b"q,a\ncaf\xe9,1\n")
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_splits(spec(bad, id=None))
    odd = tmp_path / "d.txt"
    odd.write_text("x")
    with pytest.raises(DatasetError, match="unsupported file type"):
        load_splits(spec(odd))
