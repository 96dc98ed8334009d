"""A tiny scripted server speaking the OpenAI chat completions API, for tests (stdlib only).

    with OpenAIServer() as server:
        server.enqueue(rate_limited(retry_after="2"), ok("hello"))
        ...  # call f"{server.base_url}" (it ends in /v1)
        assert len(server.requests) == 2

Each POST to ``/v1/chat/completions`` (or ``/chat/completions``) takes the next behaviour from the
queue; once the queue is empty, ``server.responder(request)`` decides (when set), else
``server.default``. Every request is recorded (path, JSON body, headers) before it is answered,
and the server tracks how many requests were in flight at once. It listens on 127.0.0.1, port 0,
in a background thread.

``scripted`` answers with the scripts of ``fakes.py`` by model name (the test models of
``conftest.test_models``, for CLI runs in this process or in a child process); ``FaultPlan``
does the same and injects faults (429, 500, dropped connections, timeouts, malformed JSON) into
a seeded fraction of calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
MAX_DELAY_S = 10.0  # a slow behaviour never holds a request longer than this


@dataclass(frozen=True)
class Behaviour:
    """How the server answers one request."""

    kind: str  # "ok", "status", "drop" or "malformed"
    text: str = ""
    status: int = 200
    body: Any = None  # a JSON-able value, or str/bytes sent as they are
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    prompt_tokens: int = 7
    completion_tokens: int | None = None  # None: the number of words in ``text``
    finish_reason: str = "stop"  # "length": the answer was cut at max_tokens


def ok(
    text: str,
    *,
    prompt_tokens: int = 7,
    completion_tokens: int | None = None,
    finish_reason: str = "stop",
) -> Behaviour:
    return Behaviour(
        "ok",
        text=text,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        finish_reason=finish_reason,
    )


def status(code: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Behaviour:
    return Behaviour("status", status=code, body=body, headers=dict(headers or {}))


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> Any:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def rate_limited(retry_after: str | None = None) -> Behaviour:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    body = error_body(
        "Rate limit reached for test-model on requests per min (RPM): Limit 3, Used 3.",
        "requests",
        "rate_limit_exceeded",
    )
    return status(429, body, headers)


def server_error(code: int = 500) -> Behaviour:
    body = error_body(
        "The server had an error while processing your request.", "server_error", None
    )
    return status(code, body)


def unauthorized(*, echo_key: bool = True) -> Behaviour:
    """A 401; with ``echo_key`` the message repeats the bearer token in full, as a careless
    proxy might (OpenAI itself shows part of it), so tests can check that it is redacted."""
    message = "Incorrect API key provided"
    if echo_key:
        message += ": {api_key}. You can find your API key at https://platform.openai.com."
    return status(401, error_body(message, "invalid_request_error", "invalid_api_key"))


def model_not_found(model: str = "test-model") -> Behaviour:
    message = f"The model `{model}` does not exist or you do not have access to it."
    return status(404, error_body(message, "invalid_request_error", "model_not_found"))


def context_length_exceeded() -> Behaviour:
    message = (
        "This model's maximum context length is 8192 tokens. However, your messages resulted in "
        "9000 tokens. Please reduce the length of the messages."
    )
    return status(
        400, error_body(message, "invalid_request_error", "context_length_exceeded", "messages")
    )


def slow(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Wait ``seconds`` (at most ``MAX_DELAY_S``, cut short by ``stop()``), then answer."""
    inner = then if then is not None else ok("slow answer")
    return Behaviour(
        inner.kind,
        text=inner.text,
        status=inner.status,
        body=inner.body,
        headers=inner.headers,
        delay_s=min(max(seconds, 0.0), MAX_DELAY_S),
        prompt_tokens=inner.prompt_tokens,
        completion_tokens=inner.completion_tokens,
    )


def drop() -> Behaviour:
    """Close the connection without sending any response."""
    return Behaviour("drop")


def malformed() -> Behaviour:
    """A 200 whose JSON body is cut off half-way."""
    return Behaviour("malformed", body='{"id": "chatcmpl-broken", "object": "chat.comp')


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    body: Any  # the parsed JSON body, or None when it was not JSON
    headers: dict[str, str]  # names in lower case


Script = Callable[[list[dict[str, str]], dict[str, Any]], str]
Responder = Callable[[RecordedRequest], Behaviour]


def scripted(scripts: Mapping[str, Script], request: RecordedRequest) -> Behaviour:
    """Answer as ``scripts[model](messages, params)`` would (the scripts of ``fakes.py``), with
    the prompt's word count as its tokens; an unknown model gets a 404. A script that raises one
    of opro's model errors gets the answer that makes the client raise that error again
    (``failure``)."""
    body = request.body if isinstance(request.body, dict) else {}
    model = str(body.get("model", ""))
    if model not in scripts:
        return model_not_found(model)
    messages = list(body.get("messages") or [])
    params = {k: body[k] for k in ("temperature", "max_tokens", "seed", "stop") if k in body}
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
    try:
        text = scripts[model](messages, params)
    except Exception as exc:  # a script's way to make the call fail
        return failure(exc)
    words, limit = text.split(), params.get("max_tokens")
    if isinstance(limit, int) and len(words) > limit:  # a word is a token here: cut as servers do
        return ok(" ".join(words[:limit]), prompt_tokens=prompt_tokens, finish_reason="length")
    return ok(text, prompt_tokens=prompt_tokens)


def failure(error: Exception) -> Behaviour:
    """The HTTP answer that an OpenAI-compatible provider gives for ``error``, one of
    ``opro_cli.errors``' model errors (matched by class name, to keep this module stdlib-only):
    litellm and opro's client map it back to the same class. Any other exception is a bug in
    the script: a 500 that names it."""
    names = {cls.__name__ for cls in type(error).__mro__}
    message = str(error)
    if "AuthenticationError" in names:
        return status(401, error_body(message, "invalid_request_error", "invalid_api_key"))
    if "ModelNotFoundError" in names:
        return status(404, error_body(message, "invalid_request_error", "model_not_found"))
    if "ContextLengthError" in names:
        body = error_body(message, "invalid_request_error", "context_length_exceeded", "messages")
        return status(400, body)
    if "QuotaExceededError" in names:
        return status(429, error_body(message, "insufficient_quota", "insufficient_quota"))
    if "RateLimitError" in names:
        return status(429, error_body(message, "requests", "rate_limit_exceeded"))
    if "BadRequestError" in names:
        return status(400, error_body(message, "invalid_request_error", None))
    if "ServerError" in names:
        return status(500, error_body(message, "server_error", None))
    return status(500, error_body(f"the script raised {error!r}", "server_error", None))


class FaultPlan:
    """A responder: answers with ``scripted(scripts, ...)``, but the first attempt of a seeded
    ``fraction`` of the distinct requests gets a fault instead, the ``faults`` (name, behaviour)
    taking turns.

    Which requests fail depends only on their bodies and the seed, never on the order in which
    concurrent requests arrive; the same body sent again (a retry) is answered normally.
    ``injected`` counts the faults served by name.
    """

    def __init__(
        self,
        scripts: Mapping[str, Script],
        faults: Iterable[tuple[str, Behaviour]],
        *,
        fraction: float,
        seed: int = 0,
    ) -> None:
        self.scripts = dict(scripts)
        self.faults = list(faults)
        self.fraction = fraction
        self.seed = seed
        self.injected: Counter[str] = Counter()
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Behaviour:
        key = json.dumps(request.body, sort_keys=True)
        with self._lock:
            first = self._attempts[key] == 0
            self._attempts[key] += 1
            if first and self._chosen(key):
                name, fault = self.faults[sum(self.injected.values()) % len(self.faults)]
                self.injected[name] += 1
                return fault
        return scripted(self.scripts, request)

    def _chosen(self, key: str) -> bool:
        digest = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.fraction


class OpenAIServer:
    """Scripted OpenAI-compatible server; use as a context manager or call start()/stop()."""

    def __init__(self, default: Behaviour | None = None) -> None:
        self.default = default if default is not None else ok("default answer")
        self.responder: Responder | None = None
        self.requests: list[RecordedRequest] = []
        self.max_in_flight = 0
        self._queue: deque[Behaviour] = deque()
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- script ---------------------------------------------------------------------------

    def enqueue(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    def enqueue_many(self, behaviours: Iterable[Behaviour]) -> None:
        self.enqueue(*behaviours)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAIServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server(("127.0.0.1", 0), _make_handler(self))
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # cut short any slow answer still waiting
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- used by the handler --------------------------------------------------------------

    def _begin(self, request: RecordedRequest) -> Behaviour:
        with self._lock:
            self.requests.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            if self._queue:
                return self._queue.popleft()
            responder = self.responder
        return responder(request) if responder is not None else self.default

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 resets connections in a burst of concurrent calls

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a cancelled call, a killed process) is no error of ours:
        stay quiet, or the traceback lands in the output of a CLI run in this process."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _completion_json(behaviour: Behaviour, model: str) -> dict[str, Any]:
    completion_tokens = (
        behaviour.completion_tokens
        if behaviour.completion_tokens is not None
        else len(behaviour.text.split())
    )
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": behaviour.text},
                "logprobs": None,
                "finish_reason": behaviour.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": behaviour.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": behaviour.prompt_tokens + completion_tokens,
        },
    }


def _make_handler(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        disable_nagle_algorithm = True  # else each answer waits ~40 ms for a delayed ACK

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # keep test output quiet

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            path = self.path.split("?", 1)[0]
            headers = {name.lower(): value for name, value in self.headers.items()}
            if path not in CHAT_PATHS:
                self._send(404, {"error": {"message": f"no route {path}", "type": "not_found"}})
                return
            behaviour = server._begin(RecordedRequest(path, body, headers))
            self._counted = True
            try:
                self._answer(behaviour, body if isinstance(body, dict) else {}, headers)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (a timeout): nothing to do
            finally:
                self._finish()

        def _finish(self) -> None:
            """Leave the in-flight count *before* answering, so that a client which sends its
            next request as soon as it has this answer is never counted twice."""
            if getattr(self, "_counted", False):
                self._counted = False
                server._end()

        def _answer(
            self, behaviour: Behaviour, body: dict[str, Any], headers: dict[str, str]
        ) -> None:
            if behaviour.delay_s and server._stopping.wait(behaviour.delay_s):
                self._drop()
                return
            if behaviour.kind == "drop":
                self._drop()
            elif behaviour.kind == "malformed":
                self._send(200, behaviour.body)
            elif behaviour.kind == "status":
                payload = behaviour.body
                if isinstance(payload, dict):
                    key = headers.get("authorization", "").removeprefix("Bearer ").strip()
                    payload = json.loads(json.dumps(payload).replace("{api_key}", key))
                self._send(behaviour.status, payload, behaviour.headers)
            else:
                self._send(200, _completion_json(behaviour, str(body.get("model", ""))))

        def _drop(self) -> None:
            self._finish()
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client may already be gone
                self.connection.shutdown(socket.SHUT_RDWR)

        def _send(self, code: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
            if isinstance(payload, bytes):
                data = payload
            elif isinstance(payload, str):
                data = payload.encode()
            else:
                data = json.dumps(payload if payload is not None else {}).encode()
            self._finish()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

    return Handler
