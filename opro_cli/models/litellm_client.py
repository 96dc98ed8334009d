"""The model client: the only module that imports litellm, and only when the first call is made.

Runs calls concurrently under a semaphore, enforces timeouts itself, retries transient failures
(429, 5xx, timeouts, dropped connections) with exponential backoff that honours ``retry-after``,
maps litellm's exceptions to ``opro_cli.errors`` (``error_mapping``), and reports tokens and
cost (``None`` when litellm does not know the price). ``estimate_cost`` prices a planned run.
A model with several deployments is called through a LiteLLM ``Router`` built for it
(``routing.py`` says how), which spreads the calls, keeps each deployment's limits and cools
down one that fails; a model with one endpoint is called directly, without the Router.

The embedded ``local/`` model (``local.py``, llama.cpp) is served to litellm as a custom
provider from here, so its calls take litellm's real code path (``litellm.acompletion``) like
hosted ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from opro_cli.errors import (
    ModelError,
    ModelTimeoutError,
    ProviderUnavailableError,
    SpecError,
    TransientModelError,
)
from opro_cli.models import routing
from opro_cli.models.base import CallParams, Completion, Deployment, Message, Prices
from opro_cli.models.error_mapping import map_exception
from opro_cli.models.providers import is_in_process, provider_of

MAX_BACKOFF_S = 60.0
# After this many calls in a row fail even after retries, no later call is expected to succeed.
CONSECUTIVE_FAILURES_LIMIT = 25

# how often a call may find every slot of the deployments taken and pick again (at most ~0.1 s
# apart) before it counts as rate limited
MAX_SLOT_WAITS = 3000

Sleep = Callable[[float], Awaitable[None]]

_litellm: Any = None


def prepare_environment() -> None:
    """Call before importing litellm: no price-list download, no ``.env`` loading, quiet logs."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
    os.environ.setdefault("LITELLM_LOG", "ERROR")


def import_litellm() -> Any:
    """Import litellm once, offline and without reading ``.env`` files, with the ``local``
    provider registered."""
    global _litellm
    if _litellm is None:
        prepare_environment()
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        _register_local_provider(litellm)
        _litellm = litellm
        settle_garbage_collector()
    return _litellm


def settle_garbage_collector() -> None:
    """Take the objects alive now out of the cycle collector's sight, for good.

    Importing litellm leaves ~300,000 objects that live as long as the process, and its first
    call imports much of the openai SDK; Python's cycle collector walks all of them on every
    full collection: pauses of ~230 ms every ~800 calls, with every call in flight waiting.
    Called after the import and after the first call that succeeds (``gc.freeze``).
    """
    gc.freeze()


def _register_local_provider(litellm: Any) -> None:
    class LocalLLM(litellm.CustomLLM):  # type: ignore[misc]
        """litellm's ``local`` provider: one chat completion by llama.cpp (``local.py``)."""

        def completion(self, *args: Any, **kwargs: Any) -> Any:
            from opro_cli.models import local

            model, messages, params = _local_request(kwargs)
            return _fill_response(litellm, kwargs, model, local.generate(model, messages, params))

        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            from opro_cli.models import local

            model, messages, params = _local_request(kwargs)
            response = await local.agenerate(model, messages, params)
            return _fill_response(litellm, kwargs, model, response)

    others = [
        entry for entry in (litellm.custom_provider_map or []) if entry.get("provider") != "local"
    ]
    litellm.custom_provider_map = [*others, {"provider": "local", "custom_handler": LocalLLM()}]


def _local_request(
    kwargs: dict[str, Any],
) -> tuple[str, list[dict[str, str]], dict[str, Any]]:
    """The model, messages and parameters of a call litellm hands to the ``local`` provider."""
    model: str = kwargs["model"]
    full = model if model.startswith("local/") else f"local/{model}"
    return full, kwargs["messages"], dict(kwargs.get("optional_params") or {})


def _fill_response(litellm: Any, kwargs: dict[str, Any], model: str, response: Any) -> Any:
    """Put llama.cpp's answer and token usage into the ``ModelResponse`` litellm passed in."""
    usage = response.get("usage") or {}
    prompt_tokens = int(usage.get("prompt_tokens", 0))
    completion_tokens = int(usage.get("completion_tokens", 0))
    model_response = kwargs["model_response"]
    model_response.choices[0].message.content = (
        response["choices"][0]["message"].get("content") or ""
    )
    model_response.choices[0].finish_reason = response["choices"][0].get("finish_reason") or "stop"
    model_response.model = model
    model_response.usage = litellm.Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    return model_response


def check_callbacks(names: Sequence[str]) -> None:
    """Raise ``SpecError`` for a callback name LiteLLM does not know (it would skip it without a
    word, and the run would go untraced). Imports litellm, so call it only with names."""
    if not names:
        return
    import typing

    litellm = import_litellm()
    known = typing.get_args(getattr(litellm, "_custom_logger_compatible_callbacks_literal", None))
    if not known:  # a litellm without the list: let it decide
        return
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SpecError(
            f"callbacks: LiteLLM {litellm_version()} has no callback named "
            f"{', '.join(repr(n) for n in unknown)}",
            hint=f"use LiteLLM's names, e.g. {', '.join(n for n in PREFERRED if n in known)}",
        )


PREFERRED = ("langfuse", "langfuse_otel", "otel", "langsmith", "mlflow", "arize_phoenix", "opik")


def litellm_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("litellm")
    except importlib.metadata.PackageNotFoundError:
        return "(unknown version)"


class LiteLLMClient:
    def __init__(
        self,
        concurrency: int = 8,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        backoff_base_s: float = 1.0,
        rng: random.Random | None = None,
        callbacks: tuple[str, ...] = (),
    ) -> None:
        self._concurrency = concurrency
        self._callbacks = callbacks
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore  # made for the event loop of the first call
        self._route_slots: dict[tuple[str, tuple[Deployment, ...]], asyncio.Semaphore] = {}
        self._routers: dict[tuple[str, tuple[Deployment, ...]], Any] = {}
        self._sleep = sleep
        self._clock = clock
        self._backoff_base_s = backoff_base_s
        self._rng = rng if rng is not None else random.Random(0)
        self._ready_models: set[str] = set()
        self._priced: dict[str, bool] = {}  # model -> whether litellm's price list has it
        self._settled = False  # whether the collector was settled after a first call
        self._consecutive_failures = 0

    async def complete(self, messages: Sequence[Message], params: CallParams) -> Completion:
        litellm = import_litellm()
        self._check_ready(params.model)
        semaphore, route_slots = self._slots(params)
        kwargs = _call_kwargs(messages, params)
        if self._callbacks:  # per call: litellm's globals stay as they are
            kwargs["callbacks"] = list(self._callbacks)
        acompletion = (
            self._router(litellm, params).acompletion if params.deployments else litellm.acompletion
        )
        attempt = 0
        waits = 0  # for a free deployment slot (no call was made)
        while True:
            async with semaphore, route_slots:
                started = self._clock()
                try:
                    response = await asyncio.wait_for(
                        acompletion(**kwargs), timeout=params.timeout_s
                    )
                except asyncio.TimeoutError:
                    error: ModelError | None = ModelTimeoutError(
                        f"{params.model}: no answer within {params.timeout_s:g} s",
                        hint="raise timeout_s in the spec, or lower concurrency",
                    )
                except Exception as exc:  # every litellm failure is mapped, never re-raised raw
                    if params.deployments and routing.slots_full(exc) and waits < MAX_SLOT_WAITS:
                        waits += 1
                        error = None  # no call was made: pick again when a slot may be free
                    else:
                        error = map_exception(exc, params.model)
                else:
                    self._consecutive_failures = 0
                    if not self._settled:
                        self._settled = True
                        settle_garbage_collector()
                    latency_s = self._clock() - started
                    return _completion(litellm, response, params, latency_s, attempt, self._priced)
            if error is None:
                await self._sleep(min(0.005 * 2 ** min(waits, 5), 0.1) * self._jitter())
                continue
            if isinstance(error, TransientModelError) and attempt < params.max_retries:
                await self._sleep(self._delay(attempt, error.retry_after_s))
                attempt += 1
                continue
            error.retries = attempt
            self._note_failure(error, params.model)
            raise error

    def _slots(
        self, params: CallParams
    ) -> tuple[asyncio.Semaphore, AbstractAsyncContextManager[Any]]:
        """The semaphore of all calls and, for a model whose deployments all have
        ``max_parallel``, one for its calls that lets no more wait at the Router than it has
        slots. Semaphores belong to one event loop: new ones for a new loop."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._routers, self._route_slots = loop, {}, {}
            self._semaphore = asyncio.Semaphore(self._concurrency)
        limit = params.parallel_limit
        if limit is None:
            return self._semaphore, contextlib.nullcontext()
        key = (params.model, params.deployments)
        if key not in self._route_slots:
            self._route_slots[key] = asyncio.Semaphore(limit)
        return self._semaphore, self._route_slots[key]

    def _router(self, litellm: Any, params: CallParams) -> Any:
        """The model's Router, built on its first call in this event loop."""
        key = (params.model, params.deployments)
        if key not in self._routers:
            with _price_list_kept(litellm):
                self._routers[key] = litellm.Router(**routing.router_settings(params))
        return self._routers[key]

    def _jitter(self) -> float:
        return 0.5 + self._rng.random() / 2

    def _delay(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), MAX_BACKOFF_S)
        base = min(self._backoff_base_s * 2.0**attempt, MAX_BACKOFF_S)
        return base * self._jitter()

    def _note_failure(self, error: ModelError, model: str) -> None:
        if not isinstance(error, TransientModelError):
            return
        self._consecutive_failures += 1
        if self._consecutive_failures >= CONSECUTIVE_FAILURES_LIMIT:
            raise ProviderUnavailableError(
                f"{model}: {self._consecutive_failures} calls in a row failed; last: {error}",
                hint="check api_base and that the provider is up, then resume the run",
            )

    def _check_ready(self, model: str) -> None:
        if model in self._ready_models:
            return
        if provider_of(model) == "local":
            from opro_cli.models.local import ensure_local_ready

            ensure_local_ready(model.split("/", 1)[1])
        self._ready_models.add(model)


@contextlib.contextmanager
def _price_list_kept(litellm: Any) -> Iterator[None]:
    """Undo what building a Router writes into litellm's price list.

    The Router registers each deployment's model there, with no price: from then on litellm
    prices a model it had no price for at $0 (``cost_per_token`` returns zeros), and an unknown
    cost must never read as zero. The Router keeps its deployments' details itself."""
    prices: dict[str, Any] = litellm.model_cost
    before = {name: dict(entry) for name, entry in prices.items()}
    try:
        yield
    finally:
        prices.clear()
        prices.update(before)
        invalidate = getattr(litellm.utils, "_invalidate_model_cost_lowercase_map", None)
        if callable(invalidate):
            invalidate()


def _call_kwargs(messages: Sequence[Message], params: CallParams) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": params.model,
        "messages": [dict(m) for m in messages],
        "temperature": params.temperature,
        "timeout": params.timeout_s,
        "max_retries": 0,
        "drop_params": True,
    }
    optional = {
        "max_tokens": params.max_tokens,
        "seed": params.seed,
        "stop": list(params.stop) if params.stop else None,
        "api_base": params.api_base,
    }
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    kwargs.update(params.extra)
    return kwargs


def _completion(
    litellm: Any,
    response: Any,
    params: CallParams,
    latency_s: float,
    retries: int,
    priced: dict[str, bool],
) -> Completion:
    choice = response.choices[0]
    text = getattr(choice.message, "content", None) or ""
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    return Completion(
        text=text,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=(
            params.prices.cost(prompt_tokens, completion_tokens)
            if params.prices is not None
            else _cost(litellm, response, params.model, priced)
        ),
        latency_s=latency_s,
        retries=retries,
        finish_reason=getattr(choice, "finish_reason", None),
        deployment=routing.answered_by(response) if params.deployments else None,
    )


def _cost(litellm: Any, response: Any, model: str, priced: dict[str, bool]) -> float | None:
    """The call's cost as litellm priced it; None for a model without a price. Whether the
    model has one is looked up once per model: for an unpriced model (a self-hosted one) every
    look-up walks litellm's whole price list and fails."""
    if is_in_process(model):
        return 0.0
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost")
    if isinstance(cost, int | float):
        return float(cost)
    if model not in priced:
        priced[model] = estimate_cost(model, 0, 0) is not None
    if not priced[model]:
        return None
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # litellm raises many kinds for a model without a known price
        return None


def estimate_cost(
    model: str, prompt_tokens: int, completion_tokens: int, prices: Prices | None = None
) -> float | None:
    """What the tokens would cost in USD: by the spec's ``prices`` when given, else litellm's
    price list; 0 for in-process models, None when the price is unknown (never guessed as 0)."""
    if prices is not None:
        return prices.cost(prompt_tokens, completion_tokens)
    if is_in_process(model):
        return 0.0
    litellm = import_litellm()
    try:
        prompt_usd, completion_usd = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # litellm raises many kinds for a model it cannot price
        return None
    return float(prompt_usd) + float(completion_usd)


def missing_environment(params: CallParams) -> tuple[str, ...]:
    """The credentials LiteLLM says a model needs and that are not set in the environment (its
    ``validate_environment``), e.g. ``("OPENAI_API_KEY",)``; empty for in-process models and for
    providers LiteLLM cannot check. Only key-like names count (``*KEY*``, ``*TOKEN*``,
    ``*SECRET*``): a missing base URL, project or region often has a default (Ollama's is
    localhost), and the first call says so when it has none."""
    if is_in_process(params.model):
        return ()
    if params.deployments:  # each names its key's variable, or needs none (self-hosted)
        return routing.missing_keys(params)
    litellm = import_litellm()
    api_version = params.extra.get("api_version")
    try:
        found = litellm.validate_environment(
            model=params.model,
            api_base=params.api_base,
            api_version=api_version if isinstance(api_version, str) else None,
        )
    except Exception:  # a provider litellm does not know: the first call will say what is wrong
        return ()
    missing = found.get("missing_keys") if isinstance(found, dict) else None
    if not isinstance(missing, list):
        return ()
    names = [str(name) for name in missing]
    return tuple(n for n in names if any(part in n.upper() for part in _CREDENTIAL_PARTS))


_CREDENTIAL_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
