"""A deterministic fake model for tests, served as the litellm custom provider ``fake``.

A *script* is a pure function ``(messages, params) -> str`` where ``params`` holds temperature,
max_tokens, seed and stop. Model strings name a script:

- ``fake/<name>``: a script registered in this process with ``register_script(name, fn)``;
- ``fake/<module>:<function>``: a function imported from an importable module (for subprocesses).

Being pure, a script answers the same whatever order concurrent calls arrive in.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from opro_cli.models.providers import fill_response, prepare_environment

prepare_environment()
from litellm import CustomLLM  # noqa: E402

Script = Callable[[list[dict[str, str]], dict[str, Any]], str]

_SCRIPTS: dict[str, Script] = {}


def register_script(name: str, script: Script) -> None:
    _SCRIPTS[name] = script


def unregister_script(name: str) -> None:
    _SCRIPTS.pop(name, None)


class FakeModelError(Exception):
    """Raised by a script to simulate a failed call."""


def find_script(name: str) -> Script:
    if name in _SCRIPTS:
        return _SCRIPTS[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        module = importlib.import_module(module_name)
        script: Script = getattr(module, attr)
        return script
    raise KeyError(f"no fake script named {name!r}; register it with register_script()")


def _token_count(text: str) -> int:
    return len(text.split())


class FakeLLM(CustomLLM):  # type: ignore[misc]
    def completion(self, *args: Any, **kwargs: Any) -> Any:
        model: str = kwargs["model"]
        name = model.split("/", 1)[1] if model.startswith("fake/") else model
        messages = kwargs["messages"]
        optional = dict(kwargs.get("optional_params") or {})
        text = find_script(name)(messages, optional)
        prompt = " ".join(str(m.get("content", "")) for m in messages)
        return fill_response(
            kwargs["model_response"],
            model=model,
            text=text,
            prompt_tokens=_token_count(prompt),
            completion_tokens=_token_count(text),
        )

    async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
        return self.completion(*args, **kwargs)
