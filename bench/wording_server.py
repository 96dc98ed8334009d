"""A loopback OpenAI-compatible server where the instruction's wording decides how often the
answer is right, for benchmarking OPRO's search and evaluation strategies (stdlib only).

It plays both models of a run:

- **scorer**: a chat request holding one of a task's example inputs (and an instruction around
  it, at any of opro's placements) is answered with the example's label with probability
  ``sigmoid(base + wording(instruction) + easiness(example))``, else with another label. The
  draw is a hash of (task, instruction, example), so the same instruction gets the same answers
  in every run. ``wording`` adds the weights of the task's hidden helpful phrases that appear in
  the instruction (each once), subtracts those of its harmful phrases, and penalises more than
  six sentences. ``easiness`` is a fixed per-example offset, so two wordings tend to get the
  same examples right, as two prompts on one real model do.
- **optimizer**: a request holding an OPRO meta-prompt (``opro_cli/core/metaprompt.py``: pairs
  of ``text:``/``score:``, exemplars, then the request for a new instruction between ``<INS>``
  and ``</INS>``) is answered with a mutation of one of the best instructions in its history:
  add a sentence from the task's vocabulary (helpful, harmful and neutral sentences alike),
  drop one, swap one, or cross two parents. The choice is seeded by the request's ``seed``, so
  a run is reproducible.

The model name is the task: ``model: openai/sentiment`` with ``api_base`` set to the printed URL
(any ``OPENAI_API_KEY``). Each task's dataset is written by ``write_dataset`` or ``--data DIR``.

    python bench/wording_server.py --port 0 --data /tmp/wording   # prints its URL; Ctrl-C stops
    python bench/wording_server.py --list                         # tasks and hidden words

    from wording_server import WordingServer, write_dataset
    with WordingServer(latency_s=0.02) as server:
        ...  # server.base_url ends in /v1; server.counts() -> {"scorer": n, "optimizer": m}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from loopback_server import completion_body  # the bench folder is on the path (script or import)

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
MAX_SENTENCES = 6  # more than this costs PENALTY_PER_SENTENCE each
PENALTY_PER_SENTENCE = 0.3


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    labels: tuple[str, ...]
    base: float  # logit of being right with no instruction, for an example of average easiness
    helpful: Mapping[str, float]  # sentence -> logit gain (hidden from the optimizer's view)
    harmful: Mapping[str, float]  # sentence -> logit loss
    neutral: tuple[str, ...]
    subjects: tuple[str, ...]  # words the example texts are made of
    size: int = 200

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Every sentence the optimizer may add, in a fixed order."""
        return (*self.helpful, *self.harmful, *self.neutral)


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            name="sentiment",
            description="Classify a short product review as positive or negative.",
            labels=("positive", "negative"),
            base=-1.0,
            helpful={
                "Answer with one word.": 0.9,
                "Choose positive or negative.": 1.1,
                "Judge the overall sentiment of the review.": 0.7,
                "Ignore sarcasm markers and focus on the verdict.": 0.5,
                "Do not explain your answer.": 0.4,
            },
            harmful={
                "Be creative.": 0.8,
                "Summarize the review first.": 0.6,
                "Consider both sides before deciding.": 0.4,
            },
            neutral=(
                "Read the review.",
                "Here is a product review.",
                "Please help with this.",
                "Be accurate.",
                "This is important.",
            ),
            subjects=("battery", "screen", "delivery", "price", "sound", "strap", "charger"),
        ),
        Task(
            name="topic",
            description="Tag a news headline as sports, politics, science or business.",
            labels=("sports", "politics", "science", "business"),
            base=-1.4,
            helpful={
                "Pick exactly one of: sports, politics, science, business.": 1.2,
                "Answer with the topic only.": 0.8,
                "Decide from the main subject of the headline.": 0.6,
                "Company news counts as business.": 0.5,
            },
            harmful={
                "Answer in a full sentence.": 0.7,
                "List every topic that could apply.": 0.9,
                "Guess if unsure.": 0.3,
            },
            neutral=(
                "Read the headline.",
                "Here is a news headline.",
                "Think carefully.",
                "Be precise.",
            ),
            subjects=("league", "senate", "telescope", "merger", "vaccine", "election", "stock"),
        ),
        Task(
            name="intent",
            description="Route a customer message to refund, delivery or account.",
            labels=("refund", "delivery", "account"),
            base=-0.6,
            helpful={
                "Reply with refund, delivery or account.": 1.0,
                "Focus on what the customer wants done.": 0.7,
                "Password and login problems are account issues.": 0.5,
            },
            harmful={
                "Apologize to the customer first.": 0.8,
                "Ask a clarifying question.": 0.6,
            },
            neutral=(
                "Read the customer message.",
                "Here is a support ticket.",
                "Be helpful.",
                "Stay polite.",
            ),
            subjects=("order", "parcel", "password", "money back", "invoice", "courier", "login"),
        ),
        Task(
            name="urgency",
            description="Rate a support ticket's urgency as high or low.",
            labels=("high", "low"),
            base=0.4,
            helpful={
                "Outages and data loss are high urgency.": 0.8,
                "Answer high or low.": 0.6,
            },
            harmful={
                "Most tickets are urgent.": 0.9,
                "Explain your reasoning step by step.": 0.5,
            },
            neutral=("Read the ticket.", "Here is a ticket.", "Be careful."),
            subjects=("outage", "typo", "crash", "question", "billing", "slowness", "backup"),
        ),
    )
}


# -- the task world (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    label: str
    easiness: float  # added to the logit of being right


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) from a hash of ``parts``."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def examples(task: Task, size: int | None = None) -> tuple[Example, ...]:
    """The task's first ``size`` labelled examples (default ``task.size``), the same on every
    call; a larger size extends a smaller one."""
    rng = random.Random(f"examples:{task.name}")
    made = []
    for i in range(size if size is not None else task.size):
        words = rng.sample(task.subjects, 3)
        label = task.labels[i % len(task.labels)]
        text = f"{task.name} case {i:04d}: {words[0]}, {words[1]} and {words[2]}"
        made.append(Example(f"{task.name}-{i:04d}", text, label, rng.gauss(0.0, 1.0)))
    return tuple(made)


def sentences(instruction: str) -> list[str]:
    """An instruction split into sentences (each kept with its final period)."""
    parts = re.split(r"(?<=[.!?])\s+", instruction.strip())
    return [p.strip() for p in parts if p.strip()]


def _key(sentence: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", sentence.lower()).strip()


def wording_effect(task: Task, instruction: str) -> float:
    """The logit the instruction's wording adds: hidden phrase weights and a length penalty."""
    present = {_key(s) for s in sentences(instruction)}
    text = _key(instruction)
    effect = 0.0
    for phrase, weight in task.helpful.items():
        if _key(phrase) in present or _key(phrase) in text:
            effect += weight
    for phrase, weight in task.harmful.items():
        if _key(phrase) in present or _key(phrase) in text:
            effect -= weight
    extra = len(sentences(instruction)) - MAX_SENTENCES
    return effect - PENALTY_PER_SENTENCE * max(0, extra)


def p_right(task: Task, instruction: str, example: Example) -> float:
    logit = task.base + wording_effect(task, instruction) + example.easiness
    return 1.0 / (1.0 + math.exp(-logit))


def expected_accuracy(task: Task, instruction: str) -> float:
    """The instruction's accuracy over all the task's examples, in expectation."""
    found = examples(task)
    return sum(p_right(task, instruction, e) for e in found) / len(found)


def answer(task: Task, instruction: str, example: Example) -> str:
    """The scorer's answer: the label with probability ``p_right``, drawn from a hash."""
    instruction = instruction.strip()
    if _unit(task.name, instruction, example.id) < p_right(task, instruction, example):
        return example.label
    others = [label for label in task.labels if label != example.label]
    return others[int(_unit("wrong", task.name, instruction, example.id) * len(others))]


_HISTORY = re.compile(r"text:\n(.*?)\nscore:\n(\d+)", re.DOTALL)
_LIMIT = re.compile(r"Keep it under (\d+) characters")


def propose(task: Task, meta_prompt: str, seed: int) -> str:
    """An optimizer's answer to an OPRO meta-prompt: a mutation of one of the best instructions
    in its history, between ``<INS>`` and ``</INS>``."""
    rng = random.Random(f"{seed}:{hashlib.sha256(meta_prompt.encode()).hexdigest()}")
    history = [(text.strip(), int(score)) for text, score in _HISTORY.findall(meta_prompt)]
    history.sort(key=lambda pair: pair[1], reverse=True)
    limit_match = _LIMIT.search(meta_prompt)
    limit = int(limit_match.group(1)) if limit_match else 500
    top = [text for text, _ in history[:4]] or [""]
    weights = [4, 2, 1, 1][: len(top)]
    parent = sentences(rng.choices(top, weights=weights)[0])
    for _ in range(20):
        child = _mutate(task, parent, top, rng)
        text = " ".join(child)
        if text and len(text) <= limit and all(text != old for old, _ in history):
            return f"<INS>{text}</INS>"
    return f"<INS>{' '.join(parent + [rng.choice(task.vocabulary)])}</INS>"


def _mutate(task: Task, parent: list[str], top: Sequence[str], rng: random.Random) -> list[str]:
    child = list(parent)
    move = rng.random()
    unused = [s for s in task.vocabulary if s not in child]
    if move < 0.5 or not child:  # add a sentence
        if unused:
            child.insert(rng.randrange(len(child) + 1), rng.choice(unused))
    elif move < 0.7:  # drop one
        child.pop(rng.randrange(len(child)))
    elif move < 0.85 and unused:  # swap one
        child[rng.randrange(len(child))] = rng.choice(unused)
    else:  # cross with another good instruction
        other = sentences(rng.choice(top))
        child = list(dict.fromkeys(child[: len(child) // 2 + 1] + other[len(other) // 2 :]))
    return child


def write_dataset(task: Task, path: Path, size: int | None = None) -> Path:
    """Write the task's examples as JSONL (``id``, ``text``, ``label``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = examples(task, size)
    lines = (json.dumps({"id": e.id, "text": e.text, "label": e.label}) for e in rows)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- the HTTP server ---------------------------------------------------------------------------


class WordingServer:
    """The loopback server; a context manager, or ``start()``/``stop()``.

    ``latency_s``: how long each answer waits (a stand-in for a hosted model's latency).
    ``size``: examples per task it knows (default each task's ``size``; must cover the datasets
    written). ``counts()``: requests answered so far, as scorer and optimizer calls.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
        size: int | None = None,
    ) -> None:
        self.host, self.requested_port, self.latency_s = host, port, latency_s
        self._by_text = {e.text: (task, e) for task in TASKS.values() for e in examples(task, size)}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}/v1"

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def start(self) -> WordingServer:
        if self._httpd is None:
            httpd = _Server((self.host, self.requested_port), _make_handler(self))
            self._httpd = httpd
            self._thread = threading.Thread(target=httpd.serve_forever, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> WordingServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def respond(self, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """The status and JSON for one chat completion request body."""
        model = str(body.get("model", "")).removeprefix("openai/")
        task = TASKS.get(model)
        if task is None:
            return 404, _error(f"The model `{model}` does not exist.", "model_not_found")
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        contents = [str(m.get("content") or "") for m in messages]
        joined = "\n".join(contents)
        if "<INS>" in joined and "text:\n" in joined or "Write a new instruction" in joined:
            seed = body.get("seed")
            text = propose(task, joined, int(seed) if isinstance(seed, int) else 0)
            kind = "optimizer"
        else:
            found = self._find_example(contents)
            if found is None or found[0] is not task:
                return 400, _error(f"no {model} example in the request", "invalid_request_error")
            example, instruction = found[1], found[2]
            text = answer(task, instruction, example)
            kind = "scorer"
        with self._lock:
            self._counts[kind] += 1
        prompt_tokens = len(joined.split())
        return 200, completion_body(
            "chatcmpl-wording", model, text, prompt_tokens, len(text.split())
        )

    def _find_example(self, contents: Sequence[str]) -> tuple[Task, Example, str] | None:
        """The example in the messages and the instruction around it, at any placement."""
        rest: list[str] = []
        found: tuple[Task, Example] | None = None
        for content in contents:
            for line in content.splitlines():
                bare = line.removeprefix("Q: ").removeprefix("A: ").strip()
                if found is None and bare in self._by_text:
                    found = self._by_text[bare]
                elif bare:
                    rest.append(bare)
        return None if found is None else (found[0], found[1], " ".join(rest))


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # bursts of concurrent connections are not reset


def _make_handler(server: WordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        disable_nagle_algorithm = True  # else each answer waits ~40 ms for a delayed ACK

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] in ("/v1/models", "/models"):
                data = [{"id": name, "object": "model"} for name in TASKS]
                self._send(200, {"object": "list", "data": data})
            else:
                self._send(404, _error(f"no route {self.path}", "not_found"))

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path.split("?", 1)[0] not in CHAT_PATHS:
                self._send(404, _error(f"no route {self.path}", "not_found"))
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, _error("body is not JSON", "invalid_request_error"))
                return
            if server.latency_s > 0:
                time.sleep(server.latency_s)
            status, payload = server.respond(body if isinstance(body, dict) else {})
            self._send(status, payload)

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="wait before each answer")
    parser.add_argument("--data", type=Path, help="write each task's dataset here as TASK.jsonl")
    parser.add_argument("--examples", type=int, help="examples per task (default 200)")
    parser.add_argument("--list", action="store_true", help="print the tasks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for task in TASKS.values():
            print(f"{task.name}: {task.description} labels={list(task.labels)} base={task.base}")
            print(f"  helpful: {dict(task.helpful)}")
            print(f"  harmful: {dict(task.harmful)}")
            print(f"  accuracy with no instruction: {expected_accuracy(task, ''):.3f}")
            everything = " ".join(task.helpful)
            print(f"  with every helpful sentence: {expected_accuracy(task, everything):.3f}")
        return 0
    if args.data:
        for task in TASKS.values():
            write_dataset(task, args.data / f"{task.name}.jsonl", args.examples)
    server = WordingServer(
        host=args.host, port=args.port, latency_s=args.latency_ms / 1000, size=args.examples
    )
    server.start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
