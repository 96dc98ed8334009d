"""Numbers a CI job can act on (issue 11): failed calls are missing data, never wrong answers;
resume answers them; cut answers are counted; the verdict gates the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openai_server import FaultPlan, scripted, server_error
from typer.testing import CliRunner

from opro_cli.cli import app

runner = CliRunner()
NO_RETRIES = {"max_retries": 0, "timeout_s": 5.0}


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def only_run(runs: Path) -> Path:
    (path,) = [p for p in runs.iterdir() if p.is_dir()]
    return path


def clean_and_faulty(parity_project, test_models, tmp_path: Path, plan: Any) -> tuple[Path, Path]:
    spec = parity_project(scorer=NO_RETRIES, optimizer=NO_RETRIES)
    clean = run("run", str(spec), "--quiet", "--no-cache", "--runs-dir", "clean")
    assert clean.exit_code == 0, clean.output
    test_models.server.responder = plan
    faulty = run("run", str(spec), "--quiet", "--no-cache", "--runs-dir", "faulty")
    assert faulty.exit_code == 0, faulty.output
    return only_run(tmp_path / "clean"), only_run(tmp_path / "faulty")


def test_a_failed_call_is_never_scored_as_a_wrong_answer(
    parity_project, test_models, tmp_path: Path
) -> None:
    plan = FaultPlan(test_models.scripts, [("500", server_error(500))], fraction=0.1, seed=2)
    clean, faulty = clean_and_faulty(parity_project, test_models, tmp_path, plan)
    assert plan.injected["500"] >= 10

    evaluations = jsonl(faulty / "evaluations.jsonl")
    failed = [e for e in evaluations if e["error"]]
    assert failed and all(e["score"] is None for e in failed)
    right = {
        (e["candidate_id"], e["split"], e["example_id"]): e["score"]
        for e in jsonl(clean / "evaluations.jsonl")
    }
    clean_scores = {c["id"] for c in jsonl(clean / "candidates.jsonl")}
    compared = 0
    for candidate in jsonl(faulty / "candidates.jsonl"):
        if candidate["id"] not in clean_scores:
            continue
        answered = [
            right[(e["candidate_id"], "train", e["example_id"])]
            for e in evaluations
            if e["candidate_id"] == candidate["id"] and e["split"] == "train" and not e["error"]
        ]
        # the faulty run's score is the clean run's over the examples it got answers for
        assert candidate["train_score"] == pytest.approx(sum(answered) / len(answered))
        assert candidate["examples"] - candidate["errors"] == len(answered)
        compared += 1
    assert compared >= 3
    summary = json.loads((faulty / "summary.json").read_text())
    assert summary["usage"]["failed_calls"] == len(failed) + sum(
        1 for m in jsonl(faulty / "meta_prompts.jsonl") for s in m["samples"] if s["failed"]
    )
    assert any("missing data, not wrong answers" in note for note in summary["notes"])


def test_after_an_outage_resume_answers_every_failed_call_and_ends_like_a_clean_run(
    parity_project, test_models, tmp_path: Path
) -> None:
    spec = parity_project(scorer=NO_RETRIES, optimizer=NO_RETRIES)
    clean = run("run", str(spec), "--json", "--no-cache", "--runs-dir", "clean")
    assert clean.exit_code == 0, clean.output

    answered = 0
    outage = {"on": True}

    def down_after_30(request: Any) -> Any:
        nonlocal answered
        if outage["on"] and answered >= 30:
            return server_error(503)
        answered += 1
        return scripted(test_models.scripts, request)

    test_models.server.responder = down_after_30
    stopped = run("run", str(spec), "--quiet", "--no-cache", "--runs-dir", "faulty")
    assert stopped.exit_code == 3, stopped.output
    assert "25 calls in a row failed" in stopped.output
    path = only_run(tmp_path / "faulty")
    assert json.loads((path / "manifest.json").read_text())["status"] == "failed"

    outage["on"] = False  # the provider is back
    resumed = run("resume", str(path), "--json", "--no-cache")
    assert resumed.exit_code == 0, resumed.output
    after, before = json.loads(resumed.stdout), json.loads(clean.stdout)
    for key in ("best", "best_seed", "seeds", "improvement", "candidates", "steps_completed"):
        assert after[key] == before[key], key
    latest = {}
    for e in jsonl(path / "evaluations.jsonl"):
        latest[(e["candidate_id"], e["split"], e["example_id"])] = e
    assert not [e for e in latest.values() if e["error"]]  # every failed call answered since
    assert after["usage"]["failed_calls"] == 0


def test_a_finished_run_with_failed_calls_can_be_resumed_and_one_without_cannot(
    parity_project, test_models, tmp_path: Path
) -> None:
    plan = FaultPlan(test_models.scripts, [("500", server_error(500))], fraction=0.05, seed=9)
    clean, faulty = clean_and_faulty(parity_project, test_models, tmp_path, plan)
    test_models.server.responder = lambda request: scripted(test_models.scripts, request)
    again = run("resume", str(clean), "--quiet", "--no-cache")
    assert again.exit_code == 2
    assert "already completed, with every call answered" in again.output
    resumed = run("resume", str(faulty), "--json", "--no-cache")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["usage"]["failed_calls"] == 0


def test_answers_cut_at_max_tokens_are_counted_and_reported(
    parity_project, test_models, tmp_path: Path
) -> None:
    test_models.add("wordy", lambda messages, params: "let me think about it first: even")
    spec = parity_project(scorer={"model": "openai/wordy", "max_tokens": 3}, budget={"steps": 0})
    result = run("run", str(spec), "--json", "--no-cache")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["usage"]["truncated_calls"] == summary["usage"]["calls"]
    assert "100% of the winner's train answers were cut at max_tokens (3)" in " ".join(
        summary["notes"]
    )
    record = jsonl(Path(summary["run_dir"]) / "candidates.jsonl")[0]
    assert record["truncated"] == record["examples"] == 20
    evaluation = jsonl(Path(summary["run_dir"]) / "evaluations.jsonl")[0]
    assert evaluation["finish_reason"] == "length"


def test_the_significance_gate_and_the_verdict(parity_project, test_models, tmp_path) -> None:
    spec = parity_project()
    passed = run("run", str(spec), "--json", "--no-cache", "--require-significant")
    assert passed.exit_code == 0, passed.output
    imp = json.loads(passed.stdout)["improvement"]
    assert (imp["method"], imp["n"], imp["missing"]) == ("mcnemar-midp+tango", 10, 0)
    assert imp["significant"] is True and imp["p_value"] < 0.05 < imp["ci_low"] + 1

    # the seed only: nothing to beat it with, so the gate fails with the reason on one line
    alone = run(
        "run",
        str(parity_project(budget={"steps": 0})),
        "--no-cache",
        "--json",
        "--require-significant",
    )
    assert alone.exit_code == 1, alone.output
    assert "--require-significant: the winner beats the best seed on test by +0.0 points" in (
        alone.stderr
    )
    assert "not significant at 95% (p = 1.000)" in alone.stderr
    notes = " ".join(json.loads(alone.stdout)["notes"])
    assert "the wording of the instruction is probably not the bottleneck" in notes


def test_dry_run_says_what_the_test_split_can_detect(parity_project, test_models) -> None:
    result = run("run", str(parity_project()), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "test split: 10 examples; at 80% power it detects gains of about" in result.output
    assert "warning: the test split (10 examples) can only detect gains above about" in (
        result.stderr
    )
    as_json = run("run", str(parity_project()), "--dry-run", "--json")
    assert 0.3 < json.loads(as_json.stdout)["detectable_gain"] <= 1.0


def test_a_cost_budget_needs_a_price_and_the_spec_can_give_one(parity_project, test_models) -> None:
    spec = parity_project(budget={"max_cost_usd": 0.5})
    refused = run("validate", str(spec))
    assert refused.exit_code == 2
    assert "budget.max_cost_usd: LiteLLM has no price for openai/parity, openai/proposer" in (
        refused.output
    )
    assert "give scorer.prices: {input_per_million: ..., output_per_million: ...}" in refused.output
    prices = {"prices": {"input_per_million": 1.0, "output_per_million": 2.0}}
    priced = parity_project(budget={"max_cost_usd": 0.5}, scorer=prices, optimizer=prices)
    result = run("run", str(priced), "--json", "--no-cache")
    assert result.exit_code == 0, result.output
    usage = json.loads(result.stdout)["usage"]
    assert usage["cost_usd"] == pytest.approx(
        (usage["prompt_tokens"] * 1.0 + usage["completion_tokens"] * 2.0) / 1e6
    )


def test_extra_accepts_litellm_options_that_mention_tokens(parity_project, test_models) -> None:
    extra = {"max_completion_tokens": 4, "input_cost_per_token": 1e-6}
    result = run("validate", str(parity_project(scorer={"extra": extra})))
    assert result.exit_code == 0, result.output
