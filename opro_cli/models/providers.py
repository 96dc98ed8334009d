"""Registers opro's in-process models with litellm as custom providers.

``fake/<script>`` (deterministic test models) and ``local/<name-or-gguf-path>`` (llama.cpp) are
served by ``litellm.CustomLLM`` handlers, so they take litellm's real code path like any hosted
model. Only ``litellm_client`` calls ``register``; it has already imported litellm by then.
"""

from __future__ import annotations

import os
from typing import Any

IN_PROCESS_PROVIDERS = ("fake", "local")


def prepare_environment() -> None:
    """Call before importing litellm: no price-list download, no ``.env`` loading, quiet logs."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
    os.environ.setdefault("LITELLM_LOG", "ERROR")


def register(litellm: Any) -> None:
    from opro_cli.models.fake import FakeLLM
    from opro_cli.models.local import LocalLLM

    existing = [
        entry
        for entry in (litellm.custom_provider_map or [])
        if entry.get("provider") not in IN_PROCESS_PROVIDERS
    ]
    litellm.custom_provider_map = [
        *existing,
        {"provider": "fake", "custom_handler": FakeLLM()},
        {"provider": "local", "custom_handler": LocalLLM()},
    ]


def provider_of(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else ""


def is_in_process(model: str) -> bool:
    return provider_of(model) in IN_PROCESS_PROVIDERS


def fill_response(
    model_response: Any, *, model: str, text: str, prompt_tokens: int, completion_tokens: int
) -> Any:
    """Put a generated text and its token usage into litellm's ``ModelResponse``."""
    from litellm.types.utils import Usage

    model_response.choices[0].message.content = text
    model_response.choices[0].finish_reason = "stop"
    model_response.model = model
    model_response.usage = Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    return model_response
