"""``callbacks: [...]``: LiteLLM callback names pass through to every call (for tracing), are
checked against LiteLLM's list before the run starts, and never carry settings or keys."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openai_server import OpenAIServer, ok
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.errors import SpecError
from opro_cli.models.base import CallParams
from opro_cli.models.litellm_client import LiteLLMClient, check_callbacks, import_litellm
from opro_cli.spec import RunSpec

MESSAGES = [{"role": "user", "content": "Great phone."}]


def spec_with(callbacks: Any) -> dict[str, Any]:
    return {
        "name": "x",
        "task": "t",
        "seed_prompts": "a",
        "dataset": {"path": "d.jsonl", "input": "q", "target": "a"},
        "callbacks": callbacks,
    }


def test_callback_names_are_names_only() -> None:
    assert RunSpec.model_validate(spec_with(["langfuse", "otel"])).callbacks == ("langfuse", "otel")
    for bad in (["langfuse?key=abc"], ["otel", "otel"], [""]):
        with pytest.raises(ValueError):
            RunSpec.model_validate(spec_with(bad))


def test_unknown_callbacks_are_refused_with_known_names() -> None:
    check_callbacks(["langfuse", "otel"])
    with pytest.raises(SpecError) as info:
        check_callbacks(["langfuzz"])
    assert "has no callback named 'langfuzz'" in info.value.message
    assert "langfuse" in (info.value.hint or "")


def test_callbacks_go_with_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-callbacks-0000")
    litellm = import_litellm()
    original = litellm.acompletion
    seen: list[Any] = []

    async def recording(**kwargs: Any) -> Any:
        seen.append(kwargs.pop("callbacks", None))
        return await original(**kwargs)

    monkeypatch.setattr(litellm, "acompletion", recording)
    with OpenAIServer() as server:
        server.enqueue(ok("positive"))
        server.enqueue(ok("negative"))
        params = CallParams(model="openai/m", api_base=server.base_url)
        traced = LiteLLMClient(1, callbacks=("langfuse",))
        plain = LiteLLMClient(1)
        assert asyncio.run(traced.complete(MESSAGES, params)).text == "positive"
        assert asyncio.run(plain.complete(MESSAGES, params)).text == "negative"
    assert seen == [["langfuse"], None]
    assert "langfuse" not in [str(c) for c in litellm.callbacks]  # litellm's globals untouched


def test_a_run_with_an_unknown_callback_stops_before_any_call(parity_project, tmp_path) -> None:
    result = CliRunner().invoke(app, ["run", str(parity_project(callbacks=["nope"]))])
    assert result.exit_code == 2
    assert "callbacks: LiteLLM" in result.output and "'nope'" in result.output
    assert not (tmp_path / "runs").exists()
