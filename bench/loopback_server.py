"""A loopback OpenAI-compatible server with a fixed latency per call, for throughput benchmarks.

    python bench/loopback_server.py --latency-ms 100     # prints its port, serves until killed

It answers ``POST .../chat/completions`` after sleeping the latency, with no limit on parallel
requests (one thread per connection). A prompt that asks for an instruction between ``<INS>``
tags (opro's meta-prompt) gets a new, numbered instruction each time, so every proposal is a new
candidate; a prompt holding the word "Baseline" gets "no"; any other prompt gets "yes" or "no",
chosen by a hash of the prompt, so candidates get different scores (and all beat a baseline
seed). A path ``/ms/<N>/...`` overrides the latency for that request. With ``--max-parallel K``
it serves K requests at once and the others wait for a slot, like a model server's batch.

``GET /stats`` returns the requests answered, the first arrival and the last answer
(``time.monotonic()``, a clock all processes of the machine share) and the most requests in
flight at once; ``POST /reset`` zeroes them.

The three settings without which such a server measures itself rather than the client: HTTP/1.1
(keep-alive), no Nagle delay on the handler's writes (else every answer waits ~40 ms for a
delayed ACK) and a listen backlog above the default 5 (else bursts of connections are reset).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Answers:
    """What the server answers: a new instruction to a meta-prompt, "no" to a baseline prompt,
    else "yes" or "no" by a hash of the prompt (also used by the benchmark's stub of LiteLLM)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proposals = 0

    def text(self, prompt: str) -> str:
        if "</INS>" in prompt:  # the optimizer's meta-prompt: always a new instruction
            with self._lock:
                self._proposals += 1
                n = self._proposals
            return f"<INS>Instruction {n}: read the text and answer yes or no.</INS>"
        if "Baseline" in prompt:
            return "no"
        return "yes" if zlib.crc32(prompt.encode()) % 2 else "no"


def completion_body(
    id_: str, model: str, text: str, prompt_tokens: int, completion_tokens: int
) -> dict[str, Any]:
    """An OpenAI chat completion answering ``text`` (the bench servers' one response shape)."""
    return {
        "id": id_,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.first_start: float | None = None
        self.last_end: float | None = None
        self.in_flight = 0
        self.max_in_flight = 0

    def begin(self, now: float) -> None:
        with self.lock:
            self.requests += 1
            if self.first_start is None:
                self.first_start = now
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def end(self, now: float) -> None:
        with self.lock:
            self.in_flight -= 1
            self.last_end = now if self.last_end is None else max(self.last_end, now)

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "first_start": self.first_start,
                "last_end": self.last_end,
                "max_in_flight": self.max_in_flight,
            }


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: bursts of new connections are not reset

    def __init__(self, port: int, latency_s: float, max_parallel: int | None = None) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.latency_s = latency_s
        # like a model server with a fixed batch size: requests beyond it wait their turn
        self.slots = threading.BoundedSemaphore(max_parallel) if max_parallel else None
        self.stats = Stats()
        self.answers = Answers()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        if self.path == "/stats":
            self._send(200, self.server.stats.as_dict())
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        started = time.monotonic()
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/reset":
            self.server.stats.reset()
            self._send(200, {})
            return
        if not self.path.endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        if self.server.slots is not None:
            self.server.slots.acquire()
            started = time.monotonic()  # the latency counts from when a slot is free
        try:
            self._answer(raw, started)
        finally:
            if self.server.slots is not None:
                self.server.slots.release()

    def _answer(self, raw: bytes, started: float) -> None:
        stats = self.server.stats
        stats.begin(started)
        latency_s = self.server.latency_s
        if self.path.startswith("/ms/"):
            latency_s = float(self.path.split("/")[2]) / 1000
        body = json.loads(raw)
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        text = self.server.answers.text(prompt)
        prompt_tokens = len(prompt.split())
        payload = completion_body("chatcmpl-bench", body.get("model", ""), text, prompt_tokens, 1)
        remaining = latency_s - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        stats.end(time.monotonic())  # before the write: a client may send its next call at once
        self._send(200, payload)

    def _send(self, code: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--max-parallel", type=int, help="requests served at once (others wait)")
    args = parser.parse_args()
    server = LoopbackServer(args.port, args.latency_ms / 1000, args.max_parallel)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
