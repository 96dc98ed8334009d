"""LiteLLM's exceptions as opro's model errors: by class name and status code, so this module
never imports litellm (``litellm_client`` calls ``map_exception`` on whatever a call raised)."""

from __future__ import annotations

import email.utils
import re
import time
from typing import Any

from opro_cli.errors import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
    ModelTimeoutError,
    OproError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from opro_cli.secrets import redact


def map_exception(exc: BaseException, model: str) -> ModelError:
    """Turn any exception litellm raises into one of ours, by class name and status code."""
    original = _our_error_inside(exc)
    if isinstance(original, ModelError):
        return original
    names = {cls.__name__ for cls in type(exc).__mro__}
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    message = redact(_first_line(str(exc)))
    lower = message.lower()
    where = f"{model}: {message}"
    retry_after = _retry_after(exc)

    if "ContextWindowExceededError" in names or "context length" in lower:
        return ContextLengthError(where, hint="shorten the inputs or raise max context")
    if "llm provider not provided" in lower or "provider not provided" in lower:
        return ModelNotFoundError(
            where, hint="prefix the model with its provider, e.g. openai/gpt-4o-mini"
        )
    key_message = "api key" in lower or "api_key" in lower
    if (
        "AuthenticationError" in names
        or "PermissionDeniedError" in names
        or status in (401, 403)
        # litellm sometimes reports a bad key as a 400 or without a status: trust the text then,
        # but never let the words "api key" turn a 404, 429 or 5xx into a run-stopping error
        or (key_message and status in (None, 400, 422))
    ):
        return AuthenticationError(
            where,
            status_code=status,
            hint="export the provider's key (e.g. OPENAI_API_KEY); `opro doctor` lists what is set",
        )
    if "NotFoundError" in names or status == 404:
        return ModelNotFoundError(
            where, status_code=status, hint="check the model name and api_base in the spec"
        )
    if "insufficient_quota" in lower or "exceeded your current quota" in lower:
        return QuotaExceededError(
            where, status_code=status, hint="add credit or raise the quota with the provider"
        )
    if "RateLimitError" in names or status == 429:
        return RateLimitError(where, status_code=status, retry_after_s=retry_after)
    if "Timeout" in names or status == 408:
        return ModelTimeoutError(where, status_code=status)
    if _connection_failure(exc):
        # litellm reports refused and dropped connections as InternalServerError (status 500)
        return ModelConnectionError(
            where, status_code=status, hint="check api_base and that the server is up"
        )
    if (
        "InternalServerError" in names
        or "ServiceUnavailableError" in names
        or (status is not None and status >= 500)
    ):
        return ServerError(where, status_code=status, retry_after_s=retry_after)
    if "APIConnectionError" in names or ("APIError" in names and status is None):
        return ModelConnectionError(where, status_code=status)
    if "BadRequestError" in names or "UnprocessableEntityError" in names or status in (400, 422):
        return BadRequestError(where, status_code=status)
    return ModelConnectionError(where, status_code=status)


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, outermost first."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        chain.append(current)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return chain


def _connection_failure(exc: BaseException) -> bool:
    """True when the request never got an HTTP answer: refused, reset or dropped connection."""
    for cause in _causes(exc):
        names = {cls.__name__ for cls in type(cause).__mro__}
        if "TimeoutException" in names or "APITimeoutError" in names:
            return False
        if names & {"APIConnectionError", "ConnectError", "ReadError", "RemoteProtocolError"}:
            return True
        if isinstance(cause, ConnectionError):
            return True
    return False


def _our_error_inside(exc: BaseException) -> OproError | None:
    for cause in _causes(exc):
        if isinstance(cause, OproError):
            return cause
    return None


_CLASS_PREFIXES = re.compile(r"^(?:(?:litellm\.\w+|\w+(?:Error|Exception|Timeout)):\s*)+")


def _first_line(text: str) -> str:
    # litellm stacks class names in front of the provider's message, e.g.
    # "litellm.ContextWindowExceededError: litellm.BadRequestError: ContextWindowExceededError: ..."
    text = _CLASS_PREFIXES.sub("", text.strip())
    line = text.splitlines()[0] if text else "unknown error"
    return line if len(line) <= 300 else line[:297] + "..."


def _retry_after(exc: BaseException) -> float | None:
    headers: Any = None
    response = getattr(exc, "response", None)
    if response is not None:
        headers = getattr(response, "headers", None)
    if not headers:
        headers = getattr(exc, "litellm_response_headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None
