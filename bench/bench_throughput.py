"""Throughput against a loopback OpenAI-compatible server: how close opro gets to the model's limit.

The server (``bench/loopback_server.py``, its own process) answers every call after a fixed
latency, with no limit on parallel requests, so the ideal run time is known: the loop's barriers
kept, it is the sum over phases (seeds; each step's optimizer round and its scoring; validation;
test) of ceil(calls / C) x latency. For each setting (latency, concurrency C) the benchmark runs,
each in a fresh process, side by side:

- ``httpx``: a bare ``httpx.AsyncClient`` loop (no LiteLLM). Must reach <= 1.10 x the ideal, or
  the server (or the machine) is the bottleneck and the other rows mean nothing;
- ``openai``: the ``openai`` SDK's ``AsyncOpenAI``;
- ``litellm``: ``litellm.acompletion`` alone, with the arguments opro passes;
- ``opro``: ``python -m opro_cli run`` end to end on a spec whose models are ``openai/<name>``
  at the server (response cache on, in a temporary folder); ``opro-nocache``: the same with
  ``--no-cache``; ``opro-router``: the server as the model's only ``deployments`` entry, so
  every call goes through LiteLLM's Router.

Each row reports the ratio to the ideal, calls per second and the process's CPU milliseconds per
call over the loop (for ``opro``: from its first request to its last answer, read from
``/proc``; start-up and imports are not counted). ``--profile`` also runs ``opro run`` under
cProfile (litellm imported before the profiler starts) and prints where the time goes, split
into what happens inside ``litellm.acompletion`` and the rest. ``--startup`` times
``opro --help`` against ``python -c pass``; ``--memory N`` measures the peak RSS of a run over N
examples against a server without latency.

    python bench/bench_throughput.py                         # 100 ms C=32 and 300 ms C=64
    python bench/bench_throughput.py --setting 100:32 --clients httpx,litellm,opro --profile
    python bench/bench_throughput.py --startup --memory 10000 --setting none
    python bench/bench_throughput.py --setting none --deployments 100:3:8   # 1 vs 3 deployments
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import math
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER = Path(__file__).resolve().parent / "loopback_server.py"
MODEL = "openai/bench-model"
SEED_PROMPT = "Baseline: answer yes or no."  # the server answers it "no": every proposal beats it
CLIENTS = ("httpx", "openai", "litellm", "opro", "opro-nocache", "opro-router")
# prototypes (not in the default list): the loop in-process with opro's client, with LiteLLM on
# a second event loop in a thread, and in two worker processes
INPROC = {"inproc": "inproc", "inproc-thread": "thread", "inproc-procs": "procs"}
TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# The workload and its ideal time


@dataclass(frozen=True)
class Workload:
    train: int = 128
    val: int = 16
    test: int = 16
    steps: int = 2
    candidates: int = 8
    top_k: int = 3

    def phases(self) -> list[tuple[str, int]]:
        """Calls per phase of a run with one seed prompt whose proposals are all new and all
        score above the seed (the loopback server answers so)."""
        phases = [("seeds", self.train)]
        for step in range(1, self.steps + 1):
            phases += [(f"step {step} optimizer", self.candidates)]
            phases += [(f"step {step} scoring", self.candidates * self.train)]
        proposals = self.steps * self.candidates  # the seed is a finalist and is tested
        finalists = 1 + min(self.top_k, proposals)
        tested = 1 + (proposals > 0)
        phases += [("validation", finalists * self.val), ("test", tested * self.test)]
        return [(name, calls) for name, calls in phases if calls]


def ideal_s(phases: Sequence[tuple[str, int]], concurrency: int, latency_s: float) -> float:
    return sum(math.ceil(calls / concurrency) for _, calls in phases) * latency_s


# ---------------------------------------------------------------------------------------------
# The server


@contextlib.contextmanager
def loopback_server(latency_ms: float, max_parallel: int | None = None) -> Iterator[str]:
    """Start the server in its own process; yield its base URL (``http://127.0.0.1:PORT``)."""
    limit = ["--max-parallel", str(max_parallel)] if max_parallel else []
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--latency-ms", str(latency_ms), *limit],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def server_stats(base: str, reset: bool = False) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/reset" if reset else f"{base}/stats", data=b"" if reset else None
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        stats: dict[str, Any] = json.loads(answer.read())
        return stats


# ---------------------------------------------------------------------------------------------
# Client loops (each runs in a fresh process: ``--loop NAME``)


def scorer_messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{SEED_PROMPT}\nText number {i}: is it a yes?"}]


def make_call(name: str, base: str, concurrency: int) -> Callable[[int], Awaitable[str]]:
    if name == "httpx":
        import httpx

        # one client (one keep-alive connection) per concurrent call: a single pool of C
        # connections makes httpcore scan them all on every request, O(C) per call
        idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for _ in range(concurrency):
            idle.put_nowait(httpx.AsyncClient(base_url=f"{base}/v1", timeout=60))

        async def call_httpx(i: int) -> str:
            body = {"model": "bench-model", "messages": scorer_messages(i), "temperature": 0}
            http = await idle.get()
            try:
                answer = await http.post("/chat/completions", json=body)
            finally:
                idle.put_nowait(http)
            answer.raise_for_status()
            return str(answer.json()["choices"][0]["message"]["content"])

        return call_httpx
    if name == "openai":
        import openai

        client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="dummy", max_retries=0)

        async def call_openai(i: int) -> str:
            messages: Any = scorer_messages(i)
            response = await client.chat.completions.create(
                model="bench-model", messages=messages, temperature=0, max_tokens=32
            )
            return response.choices[0].message.content or ""

        return call_openai
    if name.split(":")[0] == "litellm":
        return litellm_call(base, name.partition(":")[2])
    raise ValueError(f"unknown client loop {name!r}")


# Ways to call litellm.acompletion, as ``litellm:VARIANT`` clients: each one changes one thing
# against the plain ``litellm`` loop (which has opro's arguments and one-time settings)
LITELLM_VARIANTS = {
    "no-freeze": "without settle_garbage_collector (litellm as opro called it before)",
    "sdk-less": "EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER=True: litellm's own HTTP handler, "
    "not the openai SDK",
    "httpx": "litellm.disable_aiohttp_transport = True",
    "registered": "litellm.register_model() for the model, with no price",
    "price-0": "input_cost_per_token=0, output_cost_per_token=0 on every call",
}


def litellm_call(base: str, variant: str) -> Callable[[int], Awaitable[str]]:
    """``litellm.acompletion`` with the arguments and one-time settings of opro's client (which
    also settles the garbage collector after its first call: the warm-up call here)."""
    if variant not in ("", *LITELLM_VARIANTS):
        raise ValueError(f"unknown litellm variant {variant!r}")
    if variant == "sdk-less":
        os.environ["EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER"] = "True"
    from opro_cli.models import litellm_client
    from opro_cli.models.base import CallParams

    if variant == "no-freeze":
        litellm_client.settle_garbage_collector = lambda: None
    litellm = litellm_client.import_litellm()
    if variant == "httpx":
        litellm.disable_aiohttp_transport = True
    if variant == "registered":
        litellm.register_model({MODEL: {"litellm_provider": "openai", "mode": "chat"}})
    extra = {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}
    params = CallParams(
        model=MODEL,
        max_tokens=32,
        api_base=f"{base}/v1",
        timeout_s=60,
        extra=extra if variant == "price-0" else {},
    )
    settled: list[bool] = []

    async def call_litellm(i: int) -> str:
        kwargs = litellm_client._call_kwargs(scorer_messages(i), params)
        response = await litellm.acompletion(**kwargs)
        if not settled:
            litellm_client.settle_garbage_collector()
            settled.append(True)
        return str(response.choices[0].message.content)

    return call_litellm


async def run_phases(
    call: Callable[[int], Awaitable[str]], phases: Sequence[int], concurrency: int
) -> None:
    semaphore = asyncio.Semaphore(concurrency)
    counter = iter(range(10**9))

    async def one() -> None:
        async with semaphore:
            await call(next(counter))

    for calls in phases:
        await asyncio.gather(*(one() for _ in range(calls)))


def client_loop(name: str, base: str, concurrency: int, phases: Sequence[int]) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        call = make_call(name, base, concurrency)
        await call(-1)  # warm-up: connection, lazy imports
        cpu, wall = time.process_time(), time.perf_counter()
        await run_phases(call, phases, concurrency)
        return {
            "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu,
            "calls": sum(phases),
        }

    return asyncio.run(main())


def in_fresh_process(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, __file__, *args]
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed ({out.returncode}):\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------------------------
# opro run end to end


def write_run_files(
    folder: Path,
    work: Workload,
    base: str,
    concurrency: int,
    deployments: Sequence[str] = (),
    max_parallel: int | None = None,
) -> Path:
    """A dataset (every target "yes") and a spec whose scorer and optimizer are the server (or
    the ``deployments``, each taking ``max_parallel`` calls at once)."""
    import yaml

    sizes = {"train": work.train, "val": work.val, "test": work.test}
    start = 0
    for split, n in sizes.items():
        numbers = range(start, start + n)  # every input differs: no answer comes from the cache
        rows = [{"id": f"r{i}", "text": f"Text number {i}.", "label": "yes"} for i in numbers]
        start += n
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    model: dict[str, Any] = {"model": MODEL, "timeout_s": 60, "max_retries": 0}
    if deployments:
        limit = {"max_parallel": max_parallel} if max_parallel else {}
        model["deployments"] = [{"api_base": f"{b}/v1", **limit} for b in deployments]
    else:
        model["api_base"] = f"{base}/v1"
    spec = {
        "name": "throughput",
        "task": "Say whether the text is a yes.",
        "seed_prompts": [SEED_PROMPT],
        "dataset": {
            "input": "{text}",
            "target": "label",
            "id": "id",
            "split": {s: str(folder / f"{s}.jsonl") for s in sizes},
        },
        "metric": "exact_match",
        "scorer": {**model, "temperature": 0, "max_tokens": 32},
        "optimizer": {**model, "candidates_per_step": work.candidates},
        "budget": {"steps": work.steps},
        "selection": {"top_k": work.top_k, "bootstrap_samples": 200},
        "concurrency": concurrency,
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run_env(folder: Path, root: Path = ROOT) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(root),
        OPENAI_API_KEY="sk-dummy-bench",
        OPRO_CACHE_DIR=str(folder / "cache"),
        COLUMNS="160",
    )
    return env


class CpuSampler:
    """Samples a process's CPU time (all threads, from /proc) every 10 ms, with the time."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        path = f"/proc/{self.pid}/stat"
        while not self._stop.is_set():
            try:
                with open(path) as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                return
            self.samples.append((time.monotonic(), (int(fields[11]) + int(fields[12])) / TICKS))
            self._stop.wait(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def cpu_between(self, start: float, end: float) -> float:
        before = [cpu for t, cpu in self.samples if t <= start]
        after = [cpu for t, cpu in self.samples if t >= end]
        first = before[-1] if before else self.samples[0][1]
        last = after[0] if after else self.samples[-1][1]
        return last - first


def run_phase_calls(run_dir: Path) -> list[tuple[str, int]]:
    """The calls of each phase as the run made them, read from its run directory."""

    def read(name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (run_dir / name).read_text().splitlines() if line]

    steps = {c["id"]: int(c["step"]) for c in read("candidates.jsonl")}
    evaluations = read("evaluations.jsonl")
    metas = read("meta_prompts.jsonl")
    train = [steps[e["candidate_id"]] for e in evaluations if e["split"] == "train"]
    phases = [("seeds", train.count(0))]
    for meta in metas:
        step = int(meta["step"])
        phases += [(f"step {step} optimizer", len(meta["samples"]))]
        phases += [(f"step {step} scoring", train.count(step))]
    for split, name in (("val", "validation"), ("test", "test")):
        phases += [(name, sum(1 for e in evaluations if e["split"] == split))]
    return [(name, calls) for name, calls in phases if calls]


def opro_run(
    base: str,
    work: Workload,
    concurrency: int,
    *,
    cache: bool,
    root: Path = ROOT,
    deployments: Sequence[str] = (),
    max_parallel: int | None = None,
) -> dict[str, Any]:
    """``opro run`` against the server at ``base`` (or its ``deployments``: the servers at
    those URLs, whose stats are added up)."""
    servers = list(deployments) or [base]
    with tempfile.TemporaryDirectory(prefix="opro-bench-tp-") as tmp:
        folder = Path(tmp)
        spec = write_run_files(folder, work, base, concurrency, deployments, max_parallel)
        command = [sys.executable, "-m", "opro_cli", "run", str(spec), "--runs-dir"]
        command += [str(folder / "runs"), *(() if cache else ("--no-cache",))]
        for server in servers:
            server_stats(server, reset=True)
        log = folder / "output.txt"
        started = time.perf_counter()
        with log.open("w") as output:
            proc = subprocess.Popen(
                command, env=run_env(folder, root), cwd=folder, stdout=output, stderr=output
            )
            sampler = CpuSampler(proc.pid)
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time and peak RSS
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        sampler.stop()
        if proc.returncode != 0:
            raise RuntimeError(f"opro run failed ({proc.returncode}):\n{log.read_text()}")
        stats = combined_stats([server_stats(server) for server in servers])
        (run_dir,) = (folder / "runs").iterdir()
        loop_s = stats["last_end"] - stats["first_start"]
        loop_cpu = sampler.cpu_between(stats["first_start"], stats["last_end"])
        return {
            "wall_s": loop_s,
            "process_wall_s": wall,
            "cpu_s": loop_cpu,
            "process_cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024,
            "calls": stats["requests"],
            "max_in_flight": stats["max_in_flight"],
            "per_server": stats["per_server"],
            "phases": run_phase_calls(run_dir),
        }


def combined_stats(each: Sequence[dict[str, Any]]) -> dict[str, Any]:
    used = [s for s in each if s["requests"]]
    return {
        "requests": sum(s["requests"] for s in each),
        "first_start": min(s["first_start"] for s in used),
        "last_end": max(s["last_end"] for s in used),
        "max_in_flight": max(s["max_in_flight"] for s in each),
        "per_server": [s["requests"] for s in each],
    }


def measure_deployments(
    latency_ms: float, count: int, max_parallel: int, work: Workload, rounds: int
) -> None:
    """``opro run`` on one deployment and on ``count``, each server taking ``max_parallel``
    calls at once (the others wait), with concurrency ``count x max_parallel``: the gain is what
    spreading calls over deployments buys when each one is the limit."""
    concurrency = count * max_parallel
    print(
        f"\ndeployments: latency {latency_ms:g} ms, each server {max_parallel} calls at once, "
        f"concurrency {concurrency}"
    )
    print(f"  {'deployments':<12} {'time':>8} {'calls/s':>8} {'CPU ms/call':>11}  per server")
    with contextlib.ExitStack() as stack:
        bases = [
            stack.enter_context(loopback_server(latency_ms, max_parallel)) for _ in range(count)
        ]
        rates: dict[int, list[float]] = {1: [], count: []}
        for _ in range(rounds):
            for n in (1, count):
                r = opro_run(
                    bases[0],
                    work,
                    concurrency,
                    cache=False,
                    deployments=bases[:n],
                    max_parallel=max_parallel,
                )
                rate = r["calls"] / r["wall_s"]
                rates[n].append(rate)
                print(
                    f"  {n:<12} {r['wall_s']:>7.2f}s {rate:>8.0f} "
                    f"{1000 * r['cpu_s'] / r['calls']:>11.2f}  {r['per_server'][:n]}",
                    flush=True,
                )
    gain = statistics.median(rates[count]) / statistics.median(rates[1])
    print(f"  {count} deployments / 1: {gain:.2f}x the calls per second (median of {rounds})")


# ---------------------------------------------------------------------------------------------
# Prototypes: opro's loop in-process, LiteLLM's work on a second event loop or in other processes


def inproc_child(variant: str, spec: Path, folder: Path, workers: int) -> dict[str, Any]:
    """``app.execute`` with the response cache, as ``opro run`` wires it (no leaderboard),
    with the client of ``variant``: ``inproc`` (opro's own), ``thread`` or ``procs``."""
    from offload_clients import ProcessClient, ThreadLoopClient

    from opro_cli.app import execute, prepare
    from opro_cli.cache import ResponseCache
    from opro_cli.models.base import ModelClient
    from opro_cli.models.cached import CachedClient
    from opro_cli.models.litellm_client import LiteLLMClient, import_litellm

    import_litellm()
    prepared = prepare(spec)
    concurrency = prepared.spec.concurrency
    inner: Any
    if variant == "inproc":
        inner = LiteLLMClient(concurrency)
    elif variant == "thread":
        inner = ThreadLoopClient(concurrency)
    else:
        inner = ProcessClient(concurrency, workers)
    client: ModelClient = CachedClient(inner, ResponseCache(folder / "cache"))
    # warm up as the client loops do (LiteLLM's first call imports much of the openai SDK)
    warm_up = getattr(inner, "warm_up", inner.complete)
    params = prepared.config.scorer
    asyncio.run(warm_up(scorer_messages(-1), params))
    workers_cpu = asyncio.run(inner.workers_cpu_s()) if variant == "procs" else 0.0
    server_stats(str(params.api_base).removesuffix("/v1"), reset=True)
    cpu = time.process_time()
    execute(prepared, runs_dir=folder / "runs", client=client)
    cpu = time.process_time() - cpu
    if variant == "procs":
        workers_cpu = asyncio.run(inner.workers_cpu_s()) - workers_cpu
    if variant != "inproc":
        inner.close()
    return {"cpu_s": cpu + workers_cpu, "main_cpu_s": cpu}


def inproc_run(
    base: str, work: Workload, concurrency: int, variant: str, workers: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="opro-bench-inproc-") as tmp:
        folder = Path(tmp)
        spec = write_run_files(folder, work, base, concurrency)
        args = ["--inproc", variant, "--spec", str(spec), "--folder", str(folder)]
        args += ["--workers", str(workers)]
        r = in_fresh_process(args, run_env(folder))
        stats = server_stats(base)
        (run_dir,) = (folder / "runs").iterdir()
        return r | {
            "wall_s": stats["last_end"] - stats["first_start"],
            "calls": stats["requests"],
            "max_in_flight": stats["max_in_flight"],
            "phases": run_phase_calls(run_dir),
        }


# ---------------------------------------------------------------------------------------------
# opro's own overhead: the real loop, client, cache and run files, LiteLLM replaced by a stub


class StubLiteLLM:
    """Stands in for the litellm module inside ``LiteLLMClient``: answers at once, as the
    loopback server would, and knows no price (like a self-hosted model)."""

    def __init__(self) -> None:
        from loopback_server import Answers

        self.answers = Answers()

    async def acompletion(self, **kwargs: Any) -> Any:
        from types import SimpleNamespace as NS

        await asyncio.sleep(0)  # a real call yields to the event loop at least once
        prompt = "\n".join(str(m["content"]) for m in kwargs["messages"])
        message = NS(content=self.answers.text(prompt))
        usage = NS(prompt_tokens=len(prompt.split()), completion_tokens=1)
        return NS(choices=[NS(message=message)], usage=usage, _hidden_params={})

    def cost_per_token(self, **kwargs: Any) -> Any:
        raise ValueError("no price for this model")

    def completion_cost(self, **kwargs: Any) -> Any:
        raise ValueError("no price for this model")


def own_child(spec: Path, folder: Path, profile: bool, cache: bool) -> dict[str, Any]:
    """``app.execute`` as ``opro run`` wires it (no leaderboard), with or without the response
    cache, and ``LiteLLMClient`` calling ``StubLiteLLM``: every CPU second measured is opro's
    own. Also the wall time the event loop spent inside the cache's reads and writes (SQLite
    on the loop's thread: time in which no other call makes progress)."""
    from opro_cli.app import execute, prepare
    from opro_cli.cache import ResponseCache
    from opro_cli.models import litellm_client
    from opro_cli.models.base import Completion, ModelClient
    from opro_cli.models.cached import CachedClient

    blocked = [0.0, 0.0]  # total and longest

    class TimedCache(ResponseCache):
        def get(self, key: str) -> Completion | None:
            started = time.perf_counter()
            try:
                return super().get(key)
            finally:
                took = time.perf_counter() - started
                blocked[:] = [blocked[0] + took, max(blocked[1], took)]

        def put(self, key: str, model: str, completion: Completion) -> None:
            started = time.perf_counter()
            try:
                super().put(key, model, completion)
            finally:
                took = time.perf_counter() - started
                blocked[:] = [blocked[0] + took, max(blocked[1], took)]

    litellm_client._litellm = StubLiteLLM()
    prepared = prepare(spec)
    client: ModelClient = litellm_client.LiteLLMClient(prepared.spec.concurrency)
    if cache:
        client = CachedClient(client, TimedCache(folder / "cache"))
    profiler = cProfile.Profile()
    cpu, wall = time.process_time(), time.perf_counter()
    if profile:
        profiler.enable()
    done = execute(prepared, runs_dir=folder / "runs", client=client)
    profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profile:
        profiler.dump_stats(folder / "own.prof")
    calls = done.summary.usage.calls
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "calls": calls,
        "cache_wall_s": blocked[0],
        "cache_longest_s": blocked[1],
    }


def own_overhead(work: Workload, concurrency: int, profile: bool, top: int) -> str:
    lines = [
        "opro's own overhead (LiteLLM replaced by a stub that answers at once; the loop, "
        "client, metric, run files and cache):"
    ]
    for cache in (True, False):
        with tempfile.TemporaryDirectory(prefix="opro-bench-own-") as tmp:
            folder = Path(tmp)
            spec = write_run_files(folder, work, "http://127.0.0.1:9", concurrency)
            args = ["--own", "--spec", str(spec), "--folder", str(folder)]
            args += [
                *(["--profile"] if profile and cache else []),
                *([] if cache else ["--no-cache"]),
            ]
            r = in_fresh_process(args, run_env(folder))
            per = 1000 / r["calls"]
            label = "with the cache" if cache else "--no-cache"
            lines.append(
                f"  {label:<15} {r['calls']:,} calls: {r['cpu_s'] * per:.3f} CPU ms/call, "
                f"{r['wall_s'] * per:.3f} wall ms/call"
                + (
                    f", {r['cache_wall_s'] * per:.3f} ms/call inside the cache (longest "
                    f"{1000 * r['cache_longest_s']:.1f} ms)"
                    if cache
                    else ""
                )
            )
            if profile and cache:
                lines.append(summarize_profile(folder / "own.prof", r["calls"], top))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Profile of opro run (in a fresh process: ``--profile-child SPEC``)


def profile_child(spec: Path, runs_dir: Path, out: Path) -> dict[str, Any]:
    from opro_cli.cli import app
    from opro_cli.models.litellm_client import import_litellm

    import_litellm()  # the import is start-up, not per-call cost
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        app(["run", str(spec), "--runs-dir", str(runs_dir)], standalone_mode=False)
    finally:
        profiler.disable()
    profiler.dump_stats(out)
    return {"profile": str(out)}


IDLE = "<method 'poll' of 'select.epoll' objects>"  # the event loop waiting: not CPU
GROUPS = (
    ("litellm", "/litellm/"),
    ("openai SDK", "/openai/"),
    ("httpx/httpcore/aiohttp", ("/httpx/", "/httpcore/", "/aiohttp/", "/anyio/")),
    ("pydantic", "/pydantic"),
    ("opro_cli", "/opro_cli/"),
    ("rich", "/rich/"),
    ("asyncio", "/asyncio/"),
)


# Named items of the per-call path: (label, file ending, function); cumulative time per call
ITEMS = (
    (
        "litellm: price the response",
        "litellm_core_utils/litellm_logging.py",
        "response_cost_calculator",
    ),
    (
        "litellm:   of which zero-cost diagnostic",
        "litellm_logging.py",
        "_record_zero_cost_diagnostic",
    ),
    ("litellm: success logging (worker)", "litellm_logging.py", "async_success_handler"),
    ("litellm: build the logging object", "litellm/utils.py", "function_setup"),
    ("openai SDK: transform the request", "openai/_utils/_transform.py", "async_maybe_transform"),
    ("openai SDK: send and parse", "openai/_base_client.py", "request"),
    ("opro: _cost (price look-up)", "opro_cli/models/litellm_client.py", "_cost"),
    ("opro: secrets.redact", "opro_cli/secrets.py", "redact"),
    ("opro: response cache get", "opro_cli/cache.py", "get"),
    ("opro: response cache put", "opro_cli/cache.py", "put"),
    ("opro: run-file lines", "opro_cli/store.py", "_line"),
    ("opro: listeners (store, board)", "opro_cli/core/optimizer.py", "_emit"),
    ("opro: metric", "opro_cli/metrics.py", "exact_match"),
)


def group_of(filename: str) -> str:
    for name, marks in GROUPS:
        if any(mark in filename for mark in ((marks,) if isinstance(marks, str) else marks)):
            return name
    return "built-ins and other stdlib"


def summarize_profile(path: Path, calls: int, top: int = 25) -> str:
    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    idle = sum(v[2] for k, v in raw.items() if k[2] == IDLE)
    busy = total - idle
    inside = max(
        (v[3] for k, v in raw.items() if k[2] == "wrapper_async" and "litellm" in k[0]), default=0
    )
    groups: dict[str, float] = {}
    for (filename, _, func), v in raw.items():
        if func == IDLE:
            continue
        groups[group_of(filename)] = groups.get(group_of(filename), 0.0) + v[2]
    per = 1000 / max(calls, 1)
    lines = [
        f"profiled (main thread, cProfile inflates every figure): busy {busy:.2f} s = "
        f"{busy * per:.2f} ms/call; idle in epoll {idle:.2f} s",
        f"inside litellm.acompletion (cumulative): {inside:.2f} s = {inside * per:.2f} ms/call; "
        f"the rest (opro, asyncio, listeners): {busy - inside:.2f} s = "
        f"{(busy - inside) * per:.2f} ms/call",
        "own time by package: "
        + ", ".join(
            f"{name} {t * per:.2f}" for name, t in sorted(groups.items(), key=lambda kv: -kv[1])
        )
        + " (ms/call)",
    ]
    lines.append("named items of the per-call path (ms/call, cumulative):")
    for label, end, func in ITEMS:
        cumulative = sum(v[3] for k, v in raw.items() if k[0].endswith(end) and k[2] == func)
        lines.append(f"  {cumulative * per:6.3f}  {label}")
    lines.append(f"top {top} functions by own time (ms/call, own / cumulative):")
    ranked = sorted(
        ((k, v) for k, v in raw.items() if k[2] != IDLE),
        key=lambda kv: -kv[1][2],
    )[:top]
    for (filename, line, func), v in ranked:
        short = filename.split("site-packages/")[-1].split("wt-throughput/")[-1]
        lines.append(f"  {v[2] * per:6.3f} {v[3] * per:7.3f}  {func}  ({short}:{line})")
    return "\n".join(lines)


def profile_opro(base: str, work: Workload, concurrency: int, top: int, root: Path = ROOT) -> str:
    with tempfile.TemporaryDirectory(prefix="opro-bench-prof-") as tmp:
        folder = Path(tmp)
        spec = write_run_files(folder, work, base, concurrency)
        out = folder / "run.prof"
        server_stats(base, reset=True)
        args = ["--profile-child", str(spec), "--folder", str(folder)]
        in_fresh_process(args, run_env(folder, root))
        calls = server_stats(base)["requests"]
        return summarize_profile(out, calls, top)


# ---------------------------------------------------------------------------------------------
# Start-up and memory


def startup(repeat: int) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def median_s(command: list[str]) -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    bare = median_s([sys.executable, "-c", "pass"])
    help_s = median_s([sys.executable, "-m", "opro_cli", "--help"])
    verdict = "ok" if help_s - bare < 0.5 else "OVER the 0.5 s target"
    return (
        f"start-up: python -c pass {bare * 1000:.0f} ms, opro --help {help_s * 1000:.0f} ms "
        f"(median of {repeat}): +{(help_s - bare) * 1000:.0f} ms over Python ({verdict})"
    )


def memory(examples: int, concurrency: int) -> str:
    """Peak RSS of ``opro run`` over ``examples`` examples with no step (seed scored on train,
    val and test), against a server without latency."""
    work = Workload(
        train=examples // 2,
        val=examples // 5,
        test=examples - examples // 2 - examples // 5,
        steps=0,
    )
    with loopback_server(0) as base:
        r = opro_run(base, work, concurrency, cache=True)
    peak_mb = r["peak_rss_mb"]
    verdict = "ok" if peak_mb < 300 else "OVER the 300 MB target"
    return (
        f"memory: {examples:,} examples, {r['calls']:,} calls in {r['process_wall_s']:.1f} s: "
        f"peak RSS {peak_mb:.0f} MB ({verdict})"
    )


# ---------------------------------------------------------------------------------------------
# The table


def row(name: str, r: dict[str, Any]) -> str:
    return (
        f"  {name:<19} {r['ratio']:>6.2f}x {r['wall_s']:>8.2f}s {r['calls'] / r['wall_s']:>9.0f} "
        f"{1000 * r['cpu_s'] / r['calls']:>8.2f}"
    )


def measure_client(
    name: str, base: str, setting: tuple[float, int], work: Workload, options: argparse.Namespace
) -> tuple[dict[str, Any], str]:
    """One client once: its numbers (``ratio`` to the ideal of the calls it made) and a note."""
    latency_s, concurrency = setting[0] / 1000, setting[1]
    planned = work.phases()
    notes = []
    if name in INPROC:
        r = inproc_run(base, work, concurrency, INPROC[name], options.workers)
        notes.append(f"opro's process: {1000 * r['main_cpu_s'] / r['calls']:.2f} CPU ms/call")
    elif name.startswith("opro"):
        root = Path(options.before) if name.endswith("-before") else ROOT
        # opro-router: the server as the model's one deployment, through LiteLLM's Router
        routed = [base] if name.startswith("opro-router") else []
        r = opro_run(
            base, work, concurrency, cache="nocache" not in name, root=root, deployments=routed
        )
        notes.append(
            f"process: {r['process_wall_s']:.1f} s wall, "
            f"{1000 * r['process_cpu_s'] / r['calls']:.2f} CPU ms/call with start-up"
        )
    else:
        server_stats(base, reset=True)
        env = dict(os.environ, PYTHONPATH=str(ROOT), OPENAI_API_KEY="sk-dummy-bench")
        args = ["--loop", name, "--base", base, "--concurrency", str(concurrency)]
        r = in_fresh_process([*args, "--phases", ",".join(str(c) for _, c in planned)], env)
        r["phases"] = planned
        r["max_in_flight"] = server_stats(base)["max_in_flight"]
    r["ratio"] = r["wall_s"] / ideal_s(r["phases"], concurrency, latency_s)
    notes.append(f"{r['max_in_flight']} in flight at most")
    if r["phases"] != planned:
        notes.append(f"phases differ from the plan: {r['phases']}")
    return r, "; ".join(notes)


def measure_setting(
    setting: tuple[float, int], work: Workload, clients: Sequence[str], options: argparse.Namespace
) -> None:
    planned = work.phases()
    ideal = ideal_s(planned, setting[1], setting[0] / 1000)
    print(
        f"\nlatency {setting[0]:g} ms, concurrency {setting[1]}: "
        f"{sum(c for _, c in planned):,} calls in {len(planned)} phases, ideal {ideal:.2f} s"
    )
    header = f"  {'client':<19} {'ratio':>7} {'time':>9} {'calls/s':>9} {'CPU ms/call':>11}"
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}
    with loopback_server(setting[0]) as base:
        for round_ in range(1, options.rounds + 1):
            print(f" round {round_} (load average {os.getloadavg()[0]:.1f})" + "\n" + header)
            for name in clients:
                r, note = measure_client(name, base, setting, work, options)
                results[name].append(r)
                if name == "httpx":
                    verdict = "ok" if r["ratio"] <= 1.10 else "NOT MET: busy machine or slow server"
                    note += f"; server check <= 1.10x: {verdict}"
                print(row(name, r) + f"   ({note})", flush=True)
    if options.rounds > 1:
        print(f" median of {options.rounds} rounds\n{header}")
        for name, runs in results.items():
            middle = {
                key: statistics.median(r[key] for r in runs)
                for key in ("ratio", "wall_s", "calls", "cpu_s")
            }
            print(row(name, middle))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--setting",
        action="append",
        help="LATENCY_MS:CONCURRENCY (repeatable; default 100:32 and 300:64; 'none' for none)",
    )
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated subset")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run the clients this many times, taking turns"
    )
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="a tree with another opro_cli (e.g. git archive of an older commit): adds the rows "
        "opro-before and opro-nocache-before, run from there",
    )
    parser.add_argument("--train", type=int, default=128)
    parser.add_argument("--val", type=int, default=16)
    parser.add_argument("--test", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=8, help="candidates per step")
    parser.add_argument("--profile", action="store_true", help="profile opro run per setting")
    parser.add_argument("--top", type=int, default=25, help="functions shown in a profile")
    parser.add_argument("--startup", action="store_true", help="time opro --help")
    parser.add_argument("--memory", type=int, metavar="N", help="peak RSS of an N-example run")
    parser.add_argument("--loop", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("--phases", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--inproc", help=argparse.SUPPRESS)
    parser.add_argument("--own", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-cache", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--own-overhead", action="store_true", help="opro's own CPU per call (LiteLLM stubbed)"
    )
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (inproc-procs)")
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--deployments",
        metavar="LATENCY_MS:N:K",
        help="opro run on 1 deployment vs N, each server taking K calls at once",
    )
    args = parser.parse_args()

    if args.loop:
        phases = [int(p) for p in args.phases.split(",")]
        print(json.dumps(client_loop(args.loop, args.base, args.concurrency, phases)))
        return
    if args.own:
        print(json.dumps(own_child(args.spec, args.folder, args.profile, not args.no_cache)))
        return
    if args.inproc:
        print(json.dumps(inproc_child(args.inproc, args.spec, args.folder, args.workers)))
        return
    if args.profile_child:
        folder = args.folder
        result = profile_child(args.profile_child, folder / "runs", folder / "run.prof")
        print(json.dumps(result))
        return

    work = Workload(args.train, args.val, args.test, args.steps, args.candidates)
    clients = [c for c in args.clients.split(",") if c]
    variants = {f"litellm:{v}" for v in LITELLM_VARIANTS}
    unknown = set(clients) - set(CLIENTS) - set(INPROC) - variants
    if unknown:
        known = ", ".join([*CLIENTS, *INPROC, *sorted(variants)])
        parser.error(f"unknown clients {sorted(unknown)}; choose from {known}")
    if args.before:
        clients = [
            extra
            for name in clients
            for extra in (
                [name, f"{name}-before"]
                if name.startswith("opro") and name not in INPROC
                else [name]
            )
        ]
    settings = args.setting if args.setting is not None else ["100:32", "300:64"]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    for setting in settings:
        if setting == "none":
            continue
        latency, concurrency = setting.split(":")
        measure_setting((float(latency), int(concurrency)), work, clients, args)
        if args.profile:
            roots = [("", ROOT), *([(" (before)", Path(args.before))] if args.before else [])]
            with loopback_server(float(latency)) as base:
                for label, root in roots:
                    print(f"\nprofile of opro run{label}, latency {latency} ms, C={concurrency}:")
                    print(profile_opro(base, work, int(concurrency), args.top, root))
    if args.deployments:
        latency, count, limit = args.deployments.split(":")
        measure_deployments(float(latency), int(count), int(limit), work, args.rounds)
    if args.own_overhead:
        print(own_overhead(work, 32, args.profile, args.top))
    if args.startup:
        print(startup(repeat=7))
    if args.memory:
        print(memory(args.memory, concurrency=32))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
