"""A whole ``opro run`` against an OpenAI-compatible server on 127.0.0.1 that misbehaves.

The server answers like the test models (``fakes.parity_scorer`` and ``fakes.proposer``), so a
run through it must end exactly as the same run on the test models (``conftest.test_models``)
does, whatever faults it injects on the way. Backoff sleeps are recorded, never slept; only the
injected timeouts wait (for ``timeout_s``, one second).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import fakes
import pytest
from fakes import RecordedSleep
from openai_server import (
    FaultPlan,
    OpenAIServer,
    RecordedRequest,
    drop,
    malformed,
    rate_limited,
    scripted,
    server_error,
    slow,
)
from typer.testing import CliRunner

from opro_cli.app import prepare
from opro_cli.cli import app
from opro_cli.models import litellm_client
from opro_cli.models.base import CallParams

SCRIPTS = {"scorer": fakes.parity_scorer, "optimizer": fakes.proposer}
RETRY_AFTER_S = 7.0
QUICK_FAULTS = [
    ("429", rate_limited(retry_after="7")),
    ("500", server_error(500)),
    ("drop", drop()),
    ("malformed", malformed()),
]
# taken in turn; a timeout holds its call for timeout_s (one second), so it comes half as often
FAULTS = [*QUICK_FAULTS, ("timeout", slow(5.0)), *QUICK_FAULTS]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    """The server, after one call has warmed litellm up (its first call in a process takes about
    a second before anything is sent, which would look like a timeout)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-faults-4f7a9c2e8b1d")
    with OpenAIServer() as srv:
        warm_up = CallParams(model="openai/warm-up", api_base=srv.base_url, max_retries=0)
        asyncio.run(
            litellm_client.LiteLLMClient(1).complete([{"role": "user", "content": ""}], warm_up)
        )
        srv.requests.clear()
        yield srv


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> RecordedSleep:
    """Every client the CLI builds records its backoff delays instead of sleeping."""
    recorded = RecordedSleep()
    patched = functools.partial(litellm_client.LiteLLMClient, sleep=recorded)
    monkeypatch.setattr(litellm_client, "LiteLLMClient", patched)
    return recorded


def served_spec(parity_project, server: OpenAIServer, *, max_retries: int, **overrides: Any):
    model = {"api_base": server.base_url, "timeout_s": 1.0, "max_retries": max_retries}
    return parity_project(
        scorer={"model": "openai/scorer", **model},
        optimizer={"model": "openai/optimizer", **model},
        **overrides,
    )


def run_cli(spec: Path, runs: Path) -> tuple[Any, dict[str, Any]]:
    result = CliRunner().invoke(app, ["run", str(spec), "--runs-dir", str(runs), "--json"])
    assert result.exit_code == 0, result.output
    return result, json.loads(result.stdout)


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def samples_of(run: Path) -> list[dict[str, Any]]:
    return [s for meta in jsonl(run / "meta_prompts.jsonl") for s in meta["samples"]]


def test_a_run_through_faults_completes_with_one_evaluation_each_and_counts_retries(
    parity_project, server: OpenAIServer, sleeps: RecordedSleep, tmp_path: Path
) -> None:
    plan = FaultPlan(SCRIPTS, FAULTS, fraction=0.1, seed=4)
    server.responder = plan
    spec = served_spec(parity_project, server, max_retries=8)

    result, summary = run_cli(spec, tmp_path / "runs")

    # every kind of fault was served, some of them several times
    assert set(plan.injected) == {name for name, _ in FAULTS}
    assert sum(plan.injected.values()) >= 15
    assert "planned cost: unknown (litellm has no price for openai/scorer, openai/optimizer)" in (
        result.stderr
    )
    run = Path(summary["run_dir"])
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"
    assert summary["status"] == "completed"

    # exactly one final evaluation per (candidate, split, example), none of them failed
    evaluations = jsonl(run / "evaluations.jsonl")
    keys = Counter((e["candidate_id"], e["split"], e["example_id"]) for e in evaluations)
    assert max(keys.values()) == 1
    assert [e for e in evaluations if e["error"] is not None] == []
    splits = prepare(spec).splits
    candidates = [c["id"] for c in jsonl(run / "candidates.jsonl")]
    tested = {summary["best"]["id"], *(s["id"] for s in summary["seeds"])}
    for split in ("train", "val", "test"):
        ids = {e.id for e in splits.get(split)}
        by_candidate: dict[str, set[str]] = {}
        for cid, name, example in keys:
            if name == split:
                by_candidate.setdefault(cid, set()).add(example)
        assert all(examples == ids for examples in by_candidate.values()), split
        if split == "train":
            assert sorted(by_candidate) == sorted(candidates)
        if split == "test":
            assert set(by_candidate) == tested

    # every attempt the server saw beyond the first of each call is a retry in the run files
    samples = samples_of(run)
    retries = sum(e["retries"] for e in evaluations) + sum(s["retries"] for s in samples)
    assert retries == len(server.requests) - len(evaluations) - len(samples)
    assert retries >= sum(plan.injected.values())  # a slow machine may add a timeout or two
    assert summary["usage"]["retries"] == retries
    assert summary["usage"]["calls"] == len(evaluations) + len(samples)
    assert summary["usage"]["failed_calls"] == 0
    steps = jsonl(run / "steps.jsonl")
    assert [s["retries"] for s in steps] == sorted(s["retries"] for s in steps)
    assert 0 < steps[-1]["retries"] <= retries
    assert len(sleeps.delays) == retries
    assert sleeps.delays.count(RETRY_AFTER_S) == plan.injected["429"]  # retry-after honoured

    # the faults changed nothing: the same run on the test models ends the same way
    clean = parity_project()
    _, expected = run_cli(clean, tmp_path / "clean-runs")
    for field in ("best", "best_seed", "seeds", "improvement", "candidates", "steps_completed"):
        assert summary[field] == expected[field], field
    assert summary["best"]["text"] == "Label the parity carefully in one word."


def test_a_call_that_always_fails_records_its_retries(
    parity_project, server: OpenAIServer, sleeps: RecordedSleep, tmp_path: Path
) -> None:
    def responder(request: RecordedRequest) -> Any:
        body = request.body
        if body["model"] == "scorer" and "item 7" in json.dumps(body["messages"]):
            return server_error(503)
        return scripted(SCRIPTS, request)

    server.responder = responder
    spec = served_spec(parity_project, server, max_retries=2, budget={"steps": 1})

    _, summary = run_cli(spec, tmp_path / "runs")

    run = Path(summary["run_dir"])
    evaluations = jsonl(run / "evaluations.jsonl")
    failed = [e for e in evaluations if e["error"] is not None]
    assert failed
    assert {e["example_id"] for e in failed} == {"e007"}
    assert all(e["retries"] == 2 and e["error"].startswith("ServerError: ") for e in failed)
    assert all(e["retries"] == 0 for e in evaluations if e["error"] is None)
    usage = summary["usage"]
    assert usage["failed_calls"] == len(failed)
    assert usage["retries"] == 2 * len(failed) == len(sleeps.delays)
    assert len(server.requests) == usage["calls"] + usage["retries"]
    assert summary["status"] == "completed"


def test_a_run_records_its_planned_cost_beside_what_it_spent(
    parity_project, server: OpenAIServer, tmp_path: Path
) -> None:
    # model names litellm has prices for, answered by the test models' scripts
    server.responder = functools.partial(
        scripted, {"gpt-4o-mini": fakes.parity_scorer, "gpt-4o": fakes.proposer}
    )
    model = {"api_base": server.base_url, "timeout_s": 5.0}
    spec = parity_project(
        scorer={"model": "openai/gpt-4o-mini", **model},
        optimizer={"model": "openai/gpt-4o", **model},
    )
    dry = CliRunner().invoke(app, ["run", str(spec), "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.stdout)["planned_cost_usd"]
    assert planned > 0

    _, summary = run_cli(spec, tmp_path / "runs")

    manifest = json.loads((Path(summary["run_dir"]) / "manifest.json").read_text())
    assert manifest["planned_cost_usd"] == pytest.approx(planned)
    assert summary["usage"]["cost_usd"] > 0
