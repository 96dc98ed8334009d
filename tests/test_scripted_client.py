"""The test suite's own model double: queued replies, scripts by model name, a call history."""

from __future__ import annotations

import asyncio

import fakes
import pytest
from scripted_client import ScriptedClient

from opro_cli.errors import BadRequestError, ModelNotFoundError
from opro_cli.models.base import CallParams, ModelClient

ASK = [{"role": "user", "content": "Label it: item 6"}]


def complete(client: ModelClient, model: str, **params: object) -> str:
    call = CallParams(model=model, **params)  # type: ignore[arg-type]
    return asyncio.run(client.complete(ASK, call)).text


def test_queued_replies_come_first_then_scripts_by_name_without_the_provider() -> None:
    client = ScriptedClient(fakes.SCRIPTS)
    client.enqueue("first", BadRequestError("second fails"))
    assert complete(client, "openai/parity") == "first"
    with pytest.raises(BadRequestError, match="second fails"):
        complete(client, "openai/parity")
    assert client.pending == 0
    assert complete(client, "any/parity") == fakes.parity_scorer(ASK, {})
    assert complete(client, "openai/proposer", seed=4) == fakes.proposer(ASK, {"seed": 4})
    assert [(call.model, call.params.seed) for call in client.history] == [
        ("openai/parity", None),
        ("openai/parity", None),
        ("any/parity", None),
        ("openai/proposer", 4),
    ]
    assert client.history[0].messages == tuple(ASK)


def test_tokens_are_words_and_calls_cost_nothing() -> None:
    client = ScriptedClient({"echo": fakes.echo})
    completion = asyncio.run(client.complete(ASK, CallParams(model="openai/echo")))
    assert (completion.text, completion.prompt_tokens, completion.completion_tokens) == (
        "Label it: item 6",
        4,
        4,
    )
    assert completion.cost_usd == 0.0


def test_an_unknown_model_is_a_model_not_found_error() -> None:
    with pytest.raises(ModelNotFoundError, match="no script named 'nope'"):
        complete(ScriptedClient(fakes.SCRIPTS), "openai/nope")
