"""The model seam: what the optimizer needs from any model.

``ModelClient.complete(messages, params) -> Completion`` is the whole contract. The litellm
implementation (``litellm_client.py``, the one module that imports litellm) is the product's
only one; the embedded ``local/`` model is served to it as a litellm custom provider. Tests
implement the protocol with a scripted client of their own (``tests/scripted_client.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Message = Mapping[str, str]


@dataclass(frozen=True)
class Prices:
    """A model's price in USD per million tokens, where the spec gives it (for models LiteLLM
    has no price for: self-hosted, fine-tuned, new)."""

    input_per_million: float
    output_per_million: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1e6


@dataclass(frozen=True)
class Deployment:
    """One endpoint serving the model; calls to a model with several are spread by LiteLLM's
    Router. ``api_key_env`` names the environment variable holding the key (never the key)."""

    name: str  # recorded with each answer: which deployment gave it
    api_base: str
    api_key_env: str | None = None
    model: str | None = None  # the LiteLLM model string at this endpoint; None: the spec's
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    weight: float | None = None


@dataclass(frozen=True)
class CallParams:
    """Everything that decides a model's answer besides the messages."""

    model: str
    temperature: float = 0.0
    max_tokens: int | None = None
    api_base: str | None = None
    seed: int | None = None
    stop: tuple[str, ...] | None = None
    timeout_s: float = 120.0
    max_retries: int = 4
    extra: Mapping[str, Any] = field(default_factory=dict)
    prices: Prices | None = None  # overrides LiteLLM's price list (never changes an answer)
    # endpoints of the same model, spread by LiteLLM's Router (never changes an answer either)
    deployments: tuple[Deployment, ...] = ()

    @property
    def parallel_limit(self) -> int | None:
        """How many calls the deployments take at once, all together; None: no limit known."""
        limits = [d.max_parallel for d in self.deployments]
        if not limits or any(limit is None for limit in limits):
            return None
        return sum(limit for limit in limits if limit is not None)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None  # None: the price is unknown (never reported as zero)
    latency_s: float = 0.0
    retries: int = 0
    cached: bool = False  # served from opro's response cache: no call was made
    finish_reason: str | None = None  # "stop", "length" (cut at max_tokens), ...; None: unknown
    deployment: str | None = None  # which of the model's deployments answered, when it has some


class ModelClient(Protocol):
    async def complete(self, messages: Sequence[Message], params: CallParams) -> Completion: ...
