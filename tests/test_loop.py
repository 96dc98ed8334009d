"""Fewer calls for the same winner (issue 12): racing, streaming steps, patience, error-aware
proposals; and how the optimizer's answers are read (prefill, strict parsing)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opro_cli.app import execute, loop_config, prepare
from opro_cli.core.calls import derive_seed
from opro_cli.models.base import CallParams, Completion, Message


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_with(spec: Path, client: Any, tmp_path: Path, name: str = "runs") -> Path:
    return execute(prepare(spec), runs_dir=tmp_path / name, client=client).run_dir


def test_racing_drops_clearly_worse_proposals_early_and_keeps_the_winner(
    parity_project, test_models, tmp_path: Path
) -> None:
    full = run_with(parity_project(), test_models.client(), tmp_path, "full")
    raced = run_with(
        parity_project(evaluation={"strategy": "racing"}), test_models.client(), tmp_path, "race"
    )
    full_summary = json.loads((full / "summary.json").read_text())
    race_summary = json.loads((raced / "summary.json").read_text())
    assert race_summary["best"] == full_summary["best"]
    assert race_summary["improvement"] == full_summary["improvement"]
    train_calls = [
        sum(1 for e in lines(run / "evaluations.jsonl") if e["split"] == "train")
        for run in (full, raced)
    ]
    assert train_calls[1] < train_calls[0]

    dropped = [c for c in lines(raced / "candidates.jsonl") if c["stopped"]]
    assert dropped, "the proposals worse than a perfect best were raced"
    for c in dropped:
        assert c["eligible"] is False and c["examples"] < 20
        assert c["stopped"].startswith(f"dropped at {c['examples']}/20")
    kept = [c for c in lines(raced / "candidates.jsonl") if not c["stopped"]]
    assert all(c["examples"] == 20 and c["eligible"] for c in kept)


def test_racing_resumes_to_the_same_result(parity_project, test_models, tmp_path: Path) -> None:
    from opro_cli.app import prepare_resume

    spec = parity_project(evaluation={"strategy": "racing"})
    first = run_with(spec, test_models.client(), tmp_path, "a")
    again = run_with(spec, test_models.client(), tmp_path, "b")
    assert (first / "candidates.jsonl").read_text() == (again / "candidates.jsonl").read_text()
    # cut the run after 60 evaluations and resume it
    evaluations = (again / "evaluations.jsonl").read_text().splitlines(keepends=True)
    (again / "evaluations.jsonl").write_text("".join(evaluations[:60]))
    manifest = json.loads((again / "manifest.json").read_text())
    (again / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
    prepared, prior = prepare_resume(again)
    execute(prepared, resume_dir=again, prior=prior, client=test_models.client())
    assert (first / "candidates.jsonl").read_text() == (again / "candidates.jsonl").read_text()
    volatile = ("run_dir", "duration_s", "usage")
    a, b = (json.loads((run / "summary.json").read_text()) for run in (first, again))
    assert {k: v for k, v in a.items() if k not in volatile} == {
        k: v for k, v in b.items() if k not in volatile
    }


class Streaming:
    """Holds back the step's last optimizer answer until a proposal of that step is being
    scored: a loop that waited for every answer before scoring would wait forever (guarded by
    a timeout, so the test fails instead of hanging)."""

    def __init__(self, inner: Any, last_seed: int) -> None:
        self.inner = inner
        self.last_seed = last_seed
        self.scoring_started: asyncio.Event | None = None
        self.events: list[str] = []

    async def complete(self, messages: Sequence[Message], params: CallParams) -> Completion:
        if self.scoring_started is None:
            self.scoring_started = asyncio.Event()
        if params.model == "openai/proposer" and params.seed == self.last_seed:
            self.events.append("last answer held")
            await asyncio.wait_for(self.scoring_started.wait(), timeout=10)
            self.events.append("last answer sent")
        elif params.model == "openai/parity" and not messages[-1]["content"].startswith("Answer."):
            if not self.scoring_started.is_set():
                self.events.append("a proposal is scored")
            self.scoring_started.set()
        return await self.inner.complete(messages, params)


def test_a_proposal_is_scored_before_the_last_proposal_arrives(
    parity_project, test_models, tmp_path: Path
) -> None:
    spec = parity_project(budget={"steps": 1})
    client = Streaming(test_models.client(), last_seed=derive_seed(11, 1, 2))
    run_with(spec, client, tmp_path)
    assert client.events == ["last answer held", "a proposal is scored", "last answer sent"]


def test_patience_stops_when_the_best_stops_improving(
    parity_project, test_models, tmp_path: Path
) -> None:
    spec = parity_project(budget={"steps": 6, "patience": 1})
    run = run_with(spec, test_models.client(), tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    # step 1 finds the perfect instruction; step 2 cannot beat it: patience 1 stops there
    assert summary["steps_completed"] == 2
    assert summary["status"] == "completed"
    assert summary["reason"] == "patience 1: no improvement beyond noise in the last 1 steps"
    assert [s["step"] for s in lines(run / "steps.jsonl")] == [0, 1, 2]


def test_show_errors_puts_the_best_mistakes_in_the_meta_prompt(
    parity_project, test_models, tmp_path: Path
) -> None:
    spec = parity_project(optimizer={"show_errors": 2}, budget={"steps": 1})
    run = run_with(spec, test_models.client(), tmp_path)
    (meta,) = lines(run / "meta_prompts.jsonl")
    assert len(meta["mistake_ids"]) == 2
    assert "problems the best instruction so far gets wrong" in meta["meta_prompt"]
    wrong = {
        e["example_id"]: e
        for e in lines(run / "evaluations.jsonl")
        if e["split"] == "train" and e["score"] == 0.0
    }
    for example_id in meta["mistake_ids"]:
        assert f"answer:\n{wrong[example_id]['output']}" in meta["meta_prompt"]


def test_prefill_starts_the_optimizer_answer_with_the_tag(
    parity_project, test_models, tmp_path: Path
) -> None:
    # with prefill the model continues "<INS>": this one answers with the instruction alone
    test_models.add("terse", lambda messages, params: "Label the parity carefully in one word.")
    spec = parity_project(
        optimizer={"model": "openai/terse", "prefill": "on", "parse": "strict"},
        budget={"steps": 1},
    )
    client = test_models.client()
    run = run_with(spec, client, tmp_path)
    asked = [c for c in client.history if c.model == "openai/terse"]
    assert asked and all(c.messages[-1] == {"role": "assistant", "content": "<INS>"} for c in asked)
    (meta,) = lines(run / "meta_prompts.jsonl")
    statuses = [s["status"] for s in meta["samples"]]
    assert statuses == ["accepted", "duplicate", "duplicate"]
    assert meta["samples"][0]["output"].startswith("<INS>Label the parity")


def test_strict_parsing_admits_no_untagged_answer(
    parity_project, test_models, tmp_path: Path
) -> None:
    test_models.add("chatty", lambda messages, params: "Label the parity carefully.")
    spec = parity_project(
        optimizer={"model": "openai/chatty", "parse": "strict"}, budget={"steps": 1}
    )
    run = run_with(spec, test_models.client(), tmp_path)
    (meta,) = lines(run / "meta_prompts.jsonl")
    assert [s["status"] for s in meta["samples"]] == ["untagged"] * 3
    lenient = parity_project(optimizer={"model": "openai/chatty"}, budget={"steps": 1})
    run = run_with(lenient, test_models.client(), tmp_path, "lenient")
    (meta,) = lines(run / "meta_prompts.jsonl")
    assert [s["status"] for s in meta["samples"]] == ["accepted", "duplicate", "duplicate"]


def test_prefill_auto_follows_the_provider(parity_project) -> None:
    local = loop_config(prepare(parity_project(optimizer={"model": "local/x.gguf"})).spec)
    hosted = loop_config(prepare(parity_project()).spec)
    claude = loop_config(
        prepare(parity_project(scorer={"model": "anthropic/claude-3-5-haiku-latest"})).spec
    )
    assert (local.proposals.prefill, hosted.proposals.prefill) == (True, False)
    assert (claude.scorer_prefill, hosted.scorer_prefill) == (True, False)
