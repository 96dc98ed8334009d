"""A scripted model client for tests: the ``ModelClient`` seam with no litellm and no network.

    client = ScriptedClient({"parity": fakes.parity_scorer})
    client.enqueue("first answer", BadRequestError("then this fails"))
    ...  # give it to execute() or an Optimizer
    assert [call.model for call in client.history] == [...]

A call takes the next queued reply when there is one (a text, or an exception to raise), else
asks the script named by the model string without its provider (``openai/parity`` runs
``scripts["parity"]``), the same name the loopback server (``openai_server.scripted``) serves
it under. A script is a pure function ``(messages, params) -> str``, ``params`` holding the
temperature, max_tokens, seed and stop the call was made with; it may raise an
``opro_cli.errors.ModelError`` to make the call fail. Every call is recorded in ``history``.

Tokens are counted as words (the prompt's and the answer's), and every call costs $0.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opro_cli.errors import ModelNotFoundError
from opro_cli.models.base import CallParams, Completion, Message

Script = Callable[[list[dict[str, str]], dict[str, Any]], str]
Reply = str | BaseException


@dataclass(frozen=True)
class Call:
    """One call the client received."""

    messages: tuple[dict[str, str], ...]
    params: CallParams

    @property
    def model(self) -> str:
        return self.params.model


def script_name(model: str) -> str:
    """The script a model string names: what follows its provider (``openai/parity`` -> parity)."""
    return model.split("/", 1)[1] if "/" in model else model


def script_params(params: CallParams) -> dict[str, Any]:
    """What a script sees of the call's parameters (those that were set)."""
    values = {
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
        "seed": params.seed,
        "stop": list(params.stop) if params.stop else None,
    }
    return {key: value for key, value in values.items() if value is not None}


def word_count(text: str) -> int:
    return len(text.split())


class ScriptedClient:
    """A deterministic ``ModelClient``: queued replies first, then scripts by model name."""

    def __init__(self, scripts: Mapping[str, Script] | None = None) -> None:
        self.scripts: dict[str, Script] = dict(scripts or {})
        self.history: list[Call] = []
        self._queue: deque[Reply] = deque()

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next calls with these texts, or raise these exceptions, in order."""
        self._queue.extend(replies)

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def complete(self, messages: Sequence[Message], params: CallParams) -> Completion:
        sent = tuple(dict(m) for m in messages)
        self.history.append(Call(sent, params))
        text = self._answer(list(sent), params)
        prompt = " ".join(m.get("content", "") for m in sent)
        finish = "stop"
        words = text.split()
        if params.max_tokens is not None and len(words) > params.max_tokens:
            text, finish = " ".join(words[: params.max_tokens]), "length"  # a word is a token
        return Completion(
            text=text,
            prompt_tokens=word_count(prompt),
            completion_tokens=word_count(text),
            cost_usd=0.0,
            finish_reason=finish,
        )

    def _answer(self, messages: list[dict[str, str]], params: CallParams) -> str:
        if self._queue:
            reply = self._queue.popleft()
            if isinstance(reply, BaseException):
                raise reply
            return reply
        name = script_name(params.model)
        script = self.scripts.get(name)
        if script is None:
            known = ", ".join(sorted(self.scripts)) or "none"
            raise ModelNotFoundError(f"{params.model}: no script named {name!r} (scripts: {known})")
        return script(messages, script_params(params))
