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


class ModelClient(Protocol):
    async def complete(self, messages: Sequence[Message], params: CallParams) -> Completion: ...
