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
    assert (len(splits.train), len(splits.val), len(splits.test)) == (12, 3, 5)
    ids = [e.id for part in (splits.train, splits.val, splits.test) for e in part]
    assert sorted(ids) == sorted(f"x{i}" for i in range(20))
    assert splits == again
    assert [e.id for e in splits.train] != [e.id for e in other.train]
    assert len(splits.sha256) == 64


def split_of(splits) -> dict[str, str]:
    return {e.id: name for name in ("train", "val", "test") for e in splits.get(name)}


@pytest.mark.parametrize("id_column", ["id", None])
def test_growing_or_reordering_the_data_never_moves_an_example(
    tmp_path: Path, id_column: str | None
) -> None:
    before = load_splits(spec(jsonl(tmp_path / "a.jsonl", rows(60)), id=id_column))
    grown = rows(78)  # 30% more rows, added at the start and in the middle
    grown = grown[60:70] + grown[:30] + grown[70:] + grown[30:60]
    after = load_splits(spec(jsonl(tmp_path / "b.jsonl", grown), id=id_column))
    old, new = split_of(before), split_of(after)
    assert {i: new[i] for i in old} == old  # every former example kept its split
    assert not {i for i, name in old.items() if name != "test"} & {e.id for e in after.test}
    assert len({new[i] for i in new if i not in old}) >= 2  # the new rows are split too
    shuffled = load_splits(spec(jsonl(tmp_path / "c.jsonl", rows(60)[::-1]), id=id_column))
    for name in ("train", "val", "test"):  # the same examples in the same order
        assert shuffled.get(name) == before.get(name)


def test_without_an_id_column_ids_hash_the_content_and_repeats_count_once(tmp_path: Path) -> None:
    data = rows(20)
    data.insert(5, dict(data[2]))  # an exact repeat
    splits = load_splits(spec(jsonl(tmp_path / "d.jsonl", data), id=None))
    ids = list(split_of(splits))
    assert len(ids) == 20 and all(i.startswith("ex-") for i in ids)
    (warning,) = splits.warnings
    assert "row 6 repeat earlier rows (same input and target): each example is used once" in (
        warning
    )


def test_the_same_input_in_two_splits_is_reported(tmp_path: Path) -> None:
    data = [{"id": f"x{i}", "q": "the same question", "a": str(i % 2)} for i in range(20)]
    splits = load_splits(spec(jsonl(tmp_path / "d.jsonl", data)))
    (warning,) = splits.warnings
    assert warning.startswith("1 input(s) appear in more than one split")
    assert "'the same question'" in warning


def test_stratify_keeps_label_proportions_exactly(tmp_path: Path) -> None:
    data = [{"id": f"x{i}", "q": f"q{i}", "a": "yes" if i < 30 else "no"} for i in range(100)]
    path = jsonl(tmp_path / "d.jsonl", data)
    splits = load_splits(
        spec(path, split={"train": 0.5, "val": 0.2, "test": 0.3, "stratify": True})
    )
    for name, (yes, no) in {"train": (15, 35), "val": (6, 14), "test": (9, 21)}.items():
        labels = [e.target for e in splits.get(name)]
        assert (labels.count("yes"), labels.count("no")) == (yes, no), name


def test_test_ids_hash_names_the_test_examples(tmp_path: Path) -> None:
    a = load_splits(spec(jsonl(tmp_path / "a.jsonl", rows(40))))
    b = load_splits(spec(jsonl(tmp_path / "b.jsonl", rows(40)[::-1])))
    c = load_splits(spec(jsonl(tmp_path / "c.jsonl", rows(40)), seed=5))
    assert a.test_ids_sha256 == b.test_ids_sha256 != c.test_ids_sha256


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
    assert splits.train[0].id.startswith("ex-")
    assert splits.train[0].fields == {"question": "2+2?", "options": "A) 4", "a": "A"}


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


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
def test_a_byte_order_mark_is_accepted_in_every_text_format(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d{suffix}"
    data = rows(10)
    if suffix == ".jsonl":
        text = "".join(json.dumps(r) + "\n" for r in data)
    elif suffix == ".json":
        text = json.dumps(data)
    else:
        text = "id,q,a\n" + "".join(f"{r['id']},{r['q']},{r['a']}\n" for r in data)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    splits = load_splits(spec(path))
    assert sorted(split_of(splits)) == sorted(r["id"] for r in data)


def test_a_pipe_or_device_is_refused_before_reading(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "d.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(DatasetError, match="not a regular file"):
        load_splits(spec(fifo))


def test_an_oversized_file_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opro_cli import dataset_files

    path = jsonl(tmp_path / "d.jsonl", rows(50))
    monkeypatch.setattr(dataset_files, "MAX_DATASET_BYTES", 1024)
    with pytest.raises(DatasetError, match="over the 0 MiB limit for a dataset"):
        load_splits(spec(path))


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_empty_inputs_are_reported_with_their_rows(tmp_path: Path, empty: str | None) -> None:
    data = rows(12)
    data[3]["q"] = empty
    data[8]["q"] = empty
    with pytest.raises(DatasetError) as info:
        load_splits(spec(jsonl(tmp_path / "d.jsonl", data)))
    assert "rows 4, 9 (2 in all): the input is empty" in str(info.value)
    assert "fill in dataset.input ('q')" in str(info.value)


def test_parquet_list_columns_become_options(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        [{"id": f"x{i}", "q": f"q{i}", "a": "no", "o": ["yes", "no"]} for i in range(6)]
    )
    path = tmp_path / "d.parquet"
    frame.to_parquet(path)
    splits = load_splits(spec(path, options="o", split={"train": 1.0, "val": 0.0, "test": 0.0}))
    assert {e.options for e in splits.train} == {("yes", "no")}


def test_validate_and_run_show_data_warnings_on_stderr(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from opro_cli.cli import app

    data = rows(20)
    data.append(dict(data[0]))
    jsonl(tmp_path / "d.jsonl", data)
    (tmp_path / "spec.yaml").write_text(
        "name: w\ntask: t\nseed_prompts: [a]\ndataset: {path: d.jsonl, input: q, target: a}\n"
    )
    for args in (["validate", "spec.yaml"], ["run", "spec.yaml", "--dry-run"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "warning: " in result.stderr
        assert "row 21 repeat earlier rows (same input and target)" in result.stderr
