"""How a model with several deployments is routed: the settings of the LiteLLM ``Router`` that
spreads its calls (built by ``litellm_client``; this module never imports litellm).

Each deployment is one entry of the Router's model list, all under the model's own name, with
its own limits: ``rpm``/``tpm`` (kept by LiteLLM's usage-based routing, which then picks the
least-used deployment), ``max_parallel`` (LiteLLM refuses a call beyond it; the client waits for
a free slot and picks again) and ``weight`` (LiteLLM's weighted shuffle, when no deployment has
an rpm/tpm limit). A deployment that fails is cooled down: the Router sends no calls to it for
``COOLDOWN_S``, so the retry of a failed call goes to one that is up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from opro_cli.errors import SpecError
from opro_cli.models.base import CallParams, Deployment

COOLDOWN_S = 10.0
# failures a deployment may have in a minute before its cool-down (LiteLLM also cools down one
# that fails most of its calls)
ALLOWED_FAILS = 1
# what LiteLLM says when every max_parallel slot of the deployment it picked is taken
SLOTS_FULL = "max_parallel_requests"


def router_settings(params: CallParams, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The keyword arguments of ``litellm.Router`` for ``params.deployments``."""
    limited = any(d.rpm is not None or d.tpm is not None for d in params.deployments)
    return {
        "model_list": [model_entry(params, d, environ) for d in params.deployments],
        "routing_strategy": "usage-based-routing-v2" if limited else "simple-shuffle",
        "num_retries": 0,  # the client retries, with its own backoff, through the Router again
        "retry_after": 0,
        "allowed_fails": ALLOWED_FAILS,
        "cooldown_time": COOLDOWN_S,
    }


def model_entry(
    params: CallParams, deployment: Deployment, environ: Mapping[str, str]
) -> dict[str, Any]:
    litellm_params: dict[str, Any] = {
        "model": deployment.model or params.model,
        "api_base": deployment.api_base,
    }
    if deployment.api_key_env is not None:
        key = environ.get(deployment.api_key_env)
        if not key:
            raise SpecError(
                f"{params.model}: deployment {deployment.name} needs ${deployment.api_key_env}, "
                "which is not set",
                hint=f"export {deployment.api_key_env}=... (or pass --env-file)",
            )
        litellm_params["api_key"] = key
    optional = {
        "rpm": deployment.rpm,
        "tpm": deployment.tpm,
        "max_parallel_requests": deployment.max_parallel,
        "weight": deployment.weight,
    }
    litellm_params.update({k: v for k, v in optional.items() if v is not None})
    return {
        "model_name": params.model,
        "litellm_params": litellm_params,
        "model_info": {"id": deployment.name},
    }


def missing_keys(params: CallParams, environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The deployments' key variables that are not set."""
    names = [d.api_key_env for d in params.deployments if d.api_key_env is not None]
    return tuple(dict.fromkeys(n for n in names if not environ.get(n)))


def slots_full(exc: BaseException) -> bool:
    """True for LiteLLM's refusal of a call to a deployment whose parallel slots are all taken:
    no call was made, and another pick may find a free slot."""
    return type(exc).__name__ == "RateLimitError" and SLOTS_FULL in str(exc)


def answered_by(response: Any) -> str | None:
    """The name of the deployment that answered (the Router records its id in the response)."""
    hidden = getattr(response, "_hidden_params", None) or {}
    found = hidden.get("model_id")
    return found if isinstance(found, str) else None
