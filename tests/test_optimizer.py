"""The whole loop with the scripted test models (``ScriptedClient``) and the real run store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fakes
import pytest
from scripted_client import Script, ScriptedClient

from opro_cli.app import execute, prepare
from opro_cli.errors import AuthenticationError, BadRequestError, MetricError


def client(**scripts: Script) -> ScriptedClient:
    return ScriptedClient({**fakes.SCRIPTS, **scripts})


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_directory_and_winner_are_exact_for_a_fixed_seed(
    parity_project, tmp_path: Path
) -> None:
    prepared = prepare(parity_project())
    finished = execute(prepared, runs_dir=tmp_path / "runs", client=client())
    run = finished.run_dir
    assert run.parent == tmp_path / "runs"
    assert run.name.endswith("-parity")
    assert sorted(p.name for p in run.iterdir()) == [
        ".lock",
        "best_prompt.txt",
        "candidates.jsonl",
        "config.yaml",
        "evaluations.jsonl",
        "manifest.json",
        "meta_prompts.jsonl",
        "steps.jsonl",
        "summary.json",
    ]
    assert (run / "best_prompt.txt").read_text() == "Label the parity carefully in one word.\n"

    candidates = [
        (c["step"], c["origin"], c["text"], c["train_score"])
        for c in lines(run / "candidates.jsonl")
    ]
    assert candidates == [
        (0, "seed", "Answer.", 0.0),
        (1, "optimizer", "Label the item carefully.", 0.5),
        (1, "optimizer", "Label the parity carefully in one word.", 1.0),
        (2, "optimizer", "answer carefully", 0.3),
        (3, "optimizer", "Label the item carefully in one word.", 0.7),
    ]
    steps = lines(run / "steps.jsonl")
    assert [s["step"] for s in steps] == [0, 1, 2, 3]
    assert [s["best_score"] for s in steps] == [0.0, 1.0, 1.0, 1.0]
    assert [(s["proposed"], s["new_candidates"]) for s in steps] == [(1, 1), (3, 2), (3, 1), (3, 1)]

    metas = lines(run / "meta_prompts.jsonl")
    assert [m["step"] for m in metas] == [1, 2, 3]
    assert [s["status"] for s in metas[0]["samples"]] == ["accepted", "accepted", "duplicate"]
    assert "text:\nAnswer.\nscore:\n0" in metas[0]["meta_prompt"]

    evaluations = lines(run / "evaluations.jsonl")
    by_split = {
        split: sum(1 for e in evaluations if e["split"] == split)
        for split in ("train", "val", "test")
    }
    # 5 candidates x 20 train; 4 finalists (top 3 + seed) x 10 val; winner + seed x 10 test
    assert by_split == {"train": 100, "val": 40, "test": 20}
    assert all(e["error"] is None for e in evaluations)

    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["best"]["text"] == "Label the parity carefully in one word."
    assert (summary["best"]["train"], summary["best"]["val"], summary["best"]["test"]) == (
        1.0,
        1.0,
        1.0,
    )
    assert (summary["best_seed"]["text"], summary["best_seed"]["test"]) == ("Answer.", 0.0)
    assert summary["improvement"]["test_delta"] == 1.0
    assert summary["usage"]["calls"] == 9 + 160  # optimizer samples + scorer calls
    assert summary["usage"]["cost_usd"] == 0.0

    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["models"] == {"scorer": "openai/parity", "optimizer": "openai/proposer"}
    assert manifest["dataset"]["sizes"] == {"train": 20, "val": 10, "test": 10}
    assert manifest["litellm_version"] == "1.106.2"
    assert manifest["ended_at"] is not None


def test_same_seed_same_run_other_seed_other_proposals(parity_project, tmp_path: Path) -> None:
    def texts(**overrides: Any) -> list[str]:
        run = execute(
            prepare(parity_project(**overrides)), runs_dir=tmp_path / "runs", client=client()
        ).run_dir
        return [c["text"] for c in lines(run / "candidates.jsonl")]

    first = texts()
    assert texts() == first
    assert texts(seed=12) != first


def test_winner_is_chosen_on_validation_not_train(parity_project, tmp_path: Path) -> None:
    spec = parity_project(seed_prompts=["Answer.", "Label it."], budget={"steps": 0})
    summary = execute(prepare(spec), runs_dir=tmp_path / "runs", client=client()).summary
    assert summary.best.text == "Label it."
    assert summary.best.val is not None and summary.seeds[0].val is not None
    assert summary.best.val >= summary.seeds[0].val
    assert summary.steps_completed == 0


def test_per_example_errors_are_recorded_not_fatal(parity_project, tmp_path: Path) -> None:
    def flaky(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
        if "item 7" in messages[-1]["content"]:
            raise BadRequestError("this example is too odd")
        return "odd"

    spec = parity_project(scorer={"model": "openai/flaky"}, budget={"steps": 1})
    run = execute(prepare(spec), runs_dir=tmp_path / "runs", client=client(flaky=flaky)).run_dir
    failed = [e for e in lines(run / "evaluations.jsonl") if e["error"]]
    assert failed
    # a failed call is missing data: no score, never a 0
    assert all(e["example_id"] == "e007" and e["score"] is None for e in failed)
    assert "too odd" in failed[0]["error"]
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"


def test_systemic_error_stops_the_run_and_marks_it_failed(parity_project, tmp_path: Path) -> None:
    def denied(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
        raise AuthenticationError("invalid api key")

    spec = parity_project(scorer={"model": "openai/denied"})
    with pytest.raises(AuthenticationError):
        execute(prepare(spec), runs_dir=tmp_path / "runs", client=client(denied=denied))
    (run,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert "invalid api key" in manifest["reason"]
    assert not (run / "summary.json").exists()


def test_budget_stops_before_a_step_that_would_exceed(parity_project, tmp_path: Path) -> None:
    spec = parity_project(budget={"steps": 5, "max_calls": 200})
    run = execute(prepare(spec), runs_dir=tmp_path / "runs", client=client()).run_dir
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "budget_exhausted"
    assert "max_calls 200" in summary["reason"]
    assert summary["usage"]["calls"] <= 200
    assert summary["best"]["test"] is not None
    assert json.loads((run / "manifest.json").read_text())["status"] == "budget_exhausted"


def test_planned_calls(parity_project) -> None:
    plan = prepare(parity_project()).planned_calls()
    assert plan == {
        "seeds": 20,
        "steps": 3 * (3 + 3 * 20),
        "validation": (3 + 1) * 10,
        "test": 2 * 10,
    }


def test_a_metric_that_cannot_score_its_own_target_is_refused(
    parity_project, tmp_path: Path
) -> None:
    spec = parity_project(metric={"name": "regex", "pattern": "(\\d+)"})
    with pytest.raises(MetricError, match="against itself"):
        prepare(spec)
