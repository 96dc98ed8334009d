"""LiteLLMClient against a scripted OpenAI-compatible server on 127.0.0.1 (no other network).

Every call passes ``max_retries=0`` to litellm, so the server's request count is exactly the
number of attempts the client made. Backoff sleeps are recorded, never slept.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterator

import httpx
import pytest
from fakes import RecordedSleep
from openai_server import (
    OpenAIServer,
    context_length_exceeded,
    drop,
    malformed,
    model_not_found,
    ok,
    rate_limited,
    server_error,
    slow,
    status,
    unauthorized,
)

from opro_cli.errors import (
    AuthenticationError,
    BadRequestError,
    ContextLengthError,
    ModelConnectionError,
    ModelNotFoundError,
    ModelTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
    ServerError,
    TransientModelError,
)
from opro_cli.models.base import CallParams, Completion
from opro_cli.models.error_mapping import map_exception
from opro_cli.models.litellm_client import (
    CONSECUTIVE_FAILURES_LIMIT,
    LiteLLMClient,
    estimate_cost,
    import_litellm,
)

MODEL = "openai/test-model"
API_KEY = "sk-test-Zq8xW3vN5mK1pL7rT4"
MESSAGES = [
    {"role": "system", "content": "You label reviews."},
    {"role": "user", "content": "Great phone."},
]
KEY_HINT = "export the provider's key (e.g. OPENAI_API_KEY); `opro doctor` lists what is set"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture
def sleeps() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def client(sleeps: RecordedSleep) -> LiteLLMClient:
    return LiteLLMClient(4, sleep=sleeps, backoff_base_s=1.0, rng=random.Random(7))


def params(server: OpenAIServer, **overrides: object) -> CallParams:
    values: dict[str, object] = {"model": MODEL, "api_base": server.base_url, "max_retries": 4}
    values.update(overrides)
    return CallParams(**values)  # type: ignore[arg-type]


def call(client: LiteLLMClient, server: OpenAIServer, **overrides: object) -> Completion:
    return asyncio.run(client.complete(MESSAGES, params(server, **overrides)))


def failure(client: LiteLLMClient, server: OpenAIServer, **overrides: object) -> BaseException:
    with pytest.raises(Exception) as info:
        call(client, server, **overrides)
    return info.value


# -- success --------------------------------------------------------------------------------


def test_success_returns_text_tokens_and_sends_every_parameter(
    server: OpenAIServer, sleeps: RecordedSleep
) -> None:
    clock = iter([10.0, 12.5]).__next__
    client = LiteLLMClient(2, sleep=sleeps, clock=clock)
    server.enqueue(ok("positive", prompt_tokens=11, completion_tokens=4))

    completion = call(
        client, server, temperature=0.3, max_tokens=16, seed=5, stop=("\n",), timeout_s=30
    )

    assert completion == Completion(
        text="positive",
        prompt_tokens=11,
        completion_tokens=4,
        cost_usd=None,
        latency_s=2.5,
        retries=0,
        finish_reason="stop",
    )
    assert len(server.requests) == 1
    request = server.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["x-stainless-retry-count"] == "0"
    assert request.body == {
        "model": "test-model",
        "messages": MESSAGES,
        "temperature": 0.3,
        "max_tokens": 16,
        "seed": 5,
        "stop": ["\n"],
    }
    assert sleeps.delays == []


def test_unknown_model_price_is_none_not_zero(server: OpenAIServer, client: LiteLLMClient) -> None:
    server.enqueue(ok("fine", prompt_tokens=100, completion_tokens=50))

    completion = call(client, server)

    assert completion.cost_usd is None
    assert completion.prompt_tokens + completion.completion_tokens == 150


def test_known_model_price_comes_from_litellm_cost_map(
    server: OpenAIServer, client: LiteLLMClient
) -> None:
    server.enqueue(ok("fine", prompt_tokens=1000, completion_tokens=500))

    completion = call(client, server, model="openai/gpt-4o-mini")

    price = import_litellm().model_cost["gpt-4o-mini"]
    expected = 1000 * price["input_cost_per_token"] + 500 * price["output_cost_per_token"]
    assert expected > 0
    assert completion.cost_usd == pytest.approx(expected)
    assert server.requests[0].body["model"] == "gpt-4o-mini"


def test_estimate_cost_prices_known_models_only() -> None:
    price = import_litellm().model_cost["gpt-4o-mini"]
    expected = 1000 * price["input_cost_per_token"] + 500 * price["output_cost_per_token"]

    assert estimate_cost("openai/gpt-4o-mini", 1000, 500) == pytest.approx(expected)
    assert estimate_cost("openai/test-model", 1000, 500) is None  # unknown, never zero
    assert estimate_cost("local/smollm2-135m-instruct", 1000, 500) == 0.0


# -- transient failures are retried ---------------------------------------------------------


def test_rate_limit_honours_retry_after(
    server: OpenAIServer, client: LiteLLMClient, sleeps: RecordedSleep
) -> None:
    server.enqueue(rate_limited(retry_after="2"), ok("after the wait"))

    completion = call(client, server)

    assert completion.text == "after the wait"
    assert completion.retries == 1
    assert len(server.requests) == 2
    assert sleeps.delays == [2.0]


def test_server_errors_back_off_exponentially_with_jitter(
    server: OpenAIServer, client: LiteLLMClient, sleeps: RecordedSleep
) -> None:
    server.enqueue(server_error(), server_error(), ok("third time lucky"))

    completion = call(client, server)

    assert completion.text == "third time lucky"
    assert completion.retries == 2
    assert len(server.requests) == 3
    replay = random.Random(7)  # the client's rng: base * 2**attempt * (0.5 .. 1.0)
    expected = [1.0 * (0.5 + replay.random() / 2), 2.0 * (0.5 + replay.random() / 2)]
    assert sleeps.delays == pytest.approx(expected)
    assert 0.5 <= sleeps.delays[0] <= 1.0 <= sleeps.delays[1] <= 2.0


def test_server_error_forever_gives_up_after_max_retries(
    server: OpenAIServer, client: LiteLLMClient, sleeps: RecordedSleep
) -> None:
    server.default = server_error()

    error = failure(client, server, max_retries=2)

    assert type(error) is ServerError
    assert error.status_code == 500
    assert str(error) == (
        f"{MODEL}: OpenAIException - The server had an error while processing your request."
    )
    assert len(server.requests) == 3
    assert len(sleeps.delays) == 2


def test_slow_answer_times_out_and_is_retried(
    server: OpenAIServer, client: LiteLLMClient, sleeps: RecordedSleep
) -> None:
    server.enqueue(slow(2.0, ok("too late")), slow(2.0, ok("too late")), ok("in time"))

    error = failure(client, server, timeout_s=0.5, max_retries=0)
    assert type(error) is ModelTimeoutError
    assert str(error).startswith(f"{MODEL}: ")
    assert len(server.requests) == 1

    completion = call(client, server, timeout_s=0.5, max_retries=1)
    assert completion.text == "in time"
    assert completion.retries == 1
    assert len(server.requests) == 3
    assert len(sleeps.delays) == 1


def test_dropped_connection_is_retried(
    server: OpenAIServer, client: LiteLLMClient, sleeps: RecordedSleep
) -> None:
    server.enqueue(drop(), ok("reconnected"))

    completion = call(client, server)

    assert completion.text == "reconnected"
    assert completion.retries == 1
    assert len(server.requests) == 2
    assert len(sleeps.delays) == 1


def test_dropped_connection_maps_to_connection_error(
    server: OpenAIServer, client: LiteLLMClient
) -> None:
    server.enqueue(drop())

    error = failure(client, server, max_retries=0)

    # litellm reports it as an InternalServerError with status 500; the client looks underneath
    assert type(error) is ModelConnectionError
    assert str(error) == (
        f"{MODEL}: OpenAIException - Connection error. -> check api_base and that the server is up"
    )
    assert len(server.requests) == 1


def test_connection_refused_is_retried_then_reported(
    monkeypatch: pytest.MonkeyPatch, client: LiteLLMClient, sleeps: RecordedSleep
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model_params = CallParams(model=MODEL, api_base=f"http://127.0.0.1:{port}/v1", max_retries=2)

    with pytest.raises(ModelConnectionError) as info:
        asyncio.run(client.complete(MESSAGES, model_params))

    assert info.value.hint == "check api_base and that the server is up"
    assert len(sleeps.delays) == 2


def test_malformed_json_is_a_transient_server_error(
    server: OpenAIServer, client: LiteLLMClient, sleeps: RecordedSleep
) -> None:
    server.enqueue(malformed())
    error = failure(client, server, max_retries=0)
    # a 200 with a cut-off body is what a broken gateway sends: worth another try
    assert type(error) is ServerError
    assert isinstance(error, TransientModelError)
    assert error.status_code == 500
    assert "Unterminated string" in str(error)
    assert len(server.requests) == 1

    server.enqueue(malformed(), ok("whole again"))
    completion = call(client, server)
    assert completion.text == "whole again"
    assert completion.retries == 1
    assert len(server.requests) == 3


# -- failures that are not retried ----------------------------------------------------------


def test_bad_key_stops_at_once_and_never_shows_the_key(
    server: OpenAIServer, client: LiteLLMClient, sleeps: RecordedSleep
) -> None:
    server.enqueue(unauthorized(echo_key=True))  # the server repeats the key in its message

    error = failure(client, server)

    assert type(error) is AuthenticationError
    assert error.status_code == 401
    assert error.message == (
        f"{MODEL}: OpenAIException - Incorrect API key provided: ***. "
        "You can find your API key at https://platform.openai.com."
    )
    assert error.hint == KEY_HINT
    for text in (str(error), repr(error), error.message, *map(str, error.args)):
        assert API_KEY not in text
        assert API_KEY[3:] not in text
    assert len(server.requests) == 1
    assert sleeps.delays == []


def test_unknown_model_is_not_retried(
    server: OpenAIServer, client: LiteLLMClient, sleeps: RecordedSleep
) -> None:
    server.enqueue(model_not_found())

    error = failure(client, server)

    assert type(error) is ModelNotFoundError
    assert error.status_code == 404
    assert str(error) == (
        f"{MODEL}: OpenAIException - The model `test-model` does not exist or you do not have "
        "access to it. -> check the model name and api_base in the spec"
    )
    assert len(server.requests) == 1
    assert sleeps.delays == []


def test_context_length_is_not_retried(
    server: OpenAIServer, client: LiteLLMClient, sleeps: RecordedSleep
) -> None:
    server.enqueue(context_length_exceeded())

    error = failure(client, server)

    assert type(error) is ContextLengthError
    assert str(error) == (
        f"{MODEL}: OpenAIException - This model's maximum context length is 8192 tokens. "
        "However, your messages resulted in 9000 tokens. Please reduce the length of the "
        "messages. -> shorten the inputs or raise max context"
    )
    assert len(server.requests) == 1
    assert sleeps.delays == []


def test_other_bad_request_is_not_retried(
    server: OpenAIServer, client: LiteLLMClient, sleeps: RecordedSleep
) -> None:
    body = {"error": {"message": "Invalid value for 'temperature'.", "type": "invalid_request"}}
    server.enqueue(status(400, body))

    error = failure(client, server)

    assert type(error) is BadRequestError
    assert str(error) == f"{MODEL}: OpenAIException - Invalid value for 'temperature'."
    assert len(server.requests) == 1
    assert sleeps.delays == []


def test_many_failed_calls_in_a_row_mean_the_provider_is_down(
    server: OpenAIServer, client: LiteLLMClient
) -> None:
    server.default = server_error(503)

    kinds = []
    for _ in range(CONSECUTIVE_FAILURES_LIMIT):
        kinds.append(type(failure(client, server, max_retries=0)))

    assert kinds == [ServerError] * (CONSECUTIVE_FAILURES_LIMIT - 1) + [ProviderUnavailableError]
    assert len(server.requests) == CONSECUTIVE_FAILURES_LIMIT


# -- concurrency ----------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [2, 4])
def test_concurrency_limits_requests_in_flight(
    server: OpenAIServer, sleeps: RecordedSleep, concurrency: int
) -> None:
    server.default = slow(0.25, ok("done"))
    client = LiteLLMClient(concurrency, sleep=sleeps)

    async def six_calls() -> list[Completion]:
        return await asyncio.gather(*(client.complete(MESSAGES, params(server)) for _ in range(6)))

    completions = asyncio.run(six_calls())

    assert [c.text for c in completions] == ["done"] * 6
    assert len(server.requests) == 6
    assert server.max_in_flight == concurrency
    assert sleeps.delays == []


# -- map_exception on litellm's own exceptions ----------------------------------------------


def _response(code: int, headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    return httpx.Response(code, headers=headers, request=request)


def test_map_exception_by_class_and_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    litellm = import_litellm()
    cases = [
        (
            litellm.RateLimitError("slow down", "openai", "m", response=_response(429)),
            RateLimitError,
        ),
        (litellm.AuthenticationError(f"bad key {API_KEY}", "openai", "m"), AuthenticationError),
        # a bad key reported as a 400 (litellm does this for some providers)
        (litellm.BadRequestError("Invalid API key", "m", "openai"), AuthenticationError),
        (litellm.BadRequestError("unsupported value", "m", "openai"), BadRequestError),
        (litellm.NotFoundError("no such model", "m", "openai"), ModelNotFoundError),
        (litellm.ContextWindowExceededError("too long", "m", "openai"), ContextLengthError),
        (litellm.Timeout("timed out", "m", "openai"), ModelTimeoutError),
        (litellm.ServiceUnavailableError("down", "openai", "m"), ServerError),
        (litellm.InternalServerError("oops", "openai", "m"), ServerError),
        # the words "api key" in a 5xx do not make it a (run-stopping) key problem
        (litellm.InternalServerError("api key service down", "openai", "m"), ServerError),
        (litellm.APIConnectionError("refused", "openai", "m"), ModelConnectionError),
    ]
    for exc, expected in cases:
        mapped = map_exception(exc, "openai/m")
        assert type(mapped) is expected, (exc, mapped)
        assert str(mapped).startswith("openai/m: "), mapped
        assert API_KEY not in str(mapped)


def test_map_exception_reads_retry_after_from_headers() -> None:
    litellm = import_litellm()
    exc = litellm.RateLimitError(
        "slow down", "openai", "m", response=_response(429, {"retry-after": "3"})
    )

    mapped = map_exception(exc, "openai/m")

    assert type(mapped) is RateLimitError
    assert mapped.retry_after_s == 3.0
    assert mapped.status_code == 429


def test_map_exception_returns_our_own_error_from_inside_a_litellm_one() -> None:
    litellm = import_litellm()
    ours = ContextLengthError("local/tiny: prompt too long", hint="shorten it")
    try:
        try:
            raise ours
        except ContextLengthError as inner:
            raise litellm.APIConnectionError("wrapped", "local", "tiny") from inner
    except Exception as exc:  # noqa: BLE001 - the very exception under test
        mapped = map_exception(exc, "local/tiny")

    assert mapped is ours


def test_server_counts_requests_in_flight_without_the_client() -> None:
    """The server's own bookkeeping, so the concurrency test above can be trusted."""
    with OpenAIServer(default=slow(0.2, ok("x"))) as srv:

        async def post_three() -> list[int]:
            async with httpx.AsyncClient() as http:
                url = f"{srv.base_url}/chat/completions"
                payload = {"model": "m", "messages": []}
                answers = await asyncio.gather(*(http.post(url, json=payload) for _ in range(3)))
                return [a.status_code for a in answers]

        assert asyncio.run(post_three()) == [200, 200, 200]
        assert srv.max_in_flight == 3
        assert [r.body for r in srv.requests] == [{"model": "m", "messages": []}] * 3
