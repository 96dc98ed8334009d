"""The spec's links to outside tools: experiment tracking (MLflow) and LiteLLM callbacks."""

from __future__ import annotations

import re

from pydantic import Field

from opro_cli.spec.sections import Frozen

CALLBACK_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


class MlflowSpec(Frozen):
    experiment: str = Field(min_length=1)
    tracking_uri: str | None = None


class TrackingSpec(Frozen):
    mlflow: MlflowSpec | None = None


def check_callbacks(names: tuple[str, ...]) -> tuple[str, ...]:
    """LiteLLM callback names (``langfuse``, ``otel``, ...): names only, never settings or keys
    (each integration reads those from its own environment variables)."""
    for name in names:
        if not CALLBACK_RE.match(name):
            raise ValueError(
                f"{name!r} is not a callback name -> give LiteLLM's name of the integration, "
                "e.g. langfuse or otel; its settings and keys go in environment variables"
            )
    if len(set(names)) != len(names):
        raise ValueError("a callback is listed twice -> list each once")
    return names
