"""What a model string says about where the model runs; needs no litellm.

A model string is ``<provider>/<name>``, as litellm spells it. ``local/<name-or-gguf-path>`` is
opro's embedded llama.cpp model: it runs in this process and costs nothing.
"""

from __future__ import annotations

IN_PROCESS_PROVIDERS = ("local",)


def provider_of(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else ""


def is_in_process(model: str) -> bool:
    return provider_of(model) in IN_PROCESS_PROVIDERS
