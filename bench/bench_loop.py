"""What opro itself costs per model call, at the size of a real dataset.

The real loop (``opro_cli.app.execute``) runs with the test suite's parity scorer
(``tests/fakes.py``) and the report benchmark's scripted optimizer, which answer at once, so
every millisecond measured is opro's own, and with ``--client litellm`` (the default) the
client's too: building prompts, the client, the cache, the metric and the run files.

- ``--client litellm``: ``LiteLLMClient``, LiteLLM's real code path, over HTTP to the test
  suite's loopback OpenAI-compatible server (``tests/openai_server.py``), which this script
  runs in its own process, so the case's CPU time is the client's;
- ``--client scripted``: the test suite's ``ScriptedClient``, no LiteLLM: opro's loop alone.

Each case runs in a fresh process, so its peak memory is its own:

- ``no cache``: a new run with ``--no-cache``;
- ``cold cache``: a new run with an empty response cache (every answer is also stored);
- ``warm cache``: the same spec again, every answer served from that cache (zero model calls);
- ``report``: ``opro report RUN`` (details) and ``--format html`` over the ``no cache`` run, as
  subprocesses (start-up included).

    python bench/bench_loop.py                      # 2,000 examples, 3 steps of 8 candidates
    python bench/bench_loop.py --examples 4000 --steps 3
    python bench/bench_loop.py --client scripted    # the loop without LiteLLM
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]


def scripts() -> dict[str, Any]:
    from bench_report import varied_proposer
    from fakes import parity_scorer

    return {"parity": parity_scorer, "varied": varied_proposer}


def run_case(
    folder: Path, examples: int, steps: int, per_step: int, cache: str, client_kind: str
) -> dict[str, Any]:
    """One run in this process; what it measured, as a dict."""
    import yaml
    from bench_report import spec_yaml
    from fakes import parity_rows
    from scripted_client import ScriptedClient

    from opro_cli.app import execute, prepare
    from opro_cli.cache import ResponseCache
    from opro_cli.models.base import ModelClient
    from opro_cli.models.cached import CachedClient
    from opro_cli.models.litellm_client import LiteLLMClient

    data = folder / "data.jsonl"
    if not data.exists():
        data.write_text("".join(json.dumps(r) + "\n" for r in parity_rows(examples)))
    spec = folder / "bench.yaml"
    spec.write_text(yaml.safe_dump(spec_yaml("bench", 1, steps, per_step), sort_keys=False))
    client: ModelClient = (
        LiteLLMClient(8) if client_kind == "litellm" else ScriptedClient(scripts())
    )
    if cache != "none":
        client = CachedClient(client, ResponseCache(folder / "cache"))
    started = time.perf_counter()
    done = execute(prepare(spec), runs_dir=folder / f"runs-{cache}", client=client)
    wall = time.perf_counter() - started
    usage = done.summary.usage
    return {
        "wall_s": wall,
        "calls": usage.calls,
        "cache_hits": usage.cache_hits,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "run_dir": str(done.run_dir),
        "run_mb": sum(f.stat().st_size for f in done.run_dir.iterdir()) / 2**20,
    }


def in_subprocess(folder: Path, args: argparse.Namespace, cache: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--case", cache, "--folder", str(folder)]
    command += ["--examples", str(args.examples), "--steps", str(args.steps)]
    command += ["--per-step", str(args.per_step), "--client", args.client]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="rows in the dataset")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--per-step", type=int, default=8, help="candidates per step")
    parser.add_argument(
        "--client",
        choices=("litellm", "scripted"),
        default="litellm",
        help="LiteLLMClient against a loopback server (default), or ScriptedClient",
    )
    parser.add_argument("--case", choices=("none", "cold", "warm"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        cache = "cold" if args.case == "warm" else args.case  # warm reads what cold stored
        result = run_case(args.folder, args.examples, args.steps, args.per_step, cache, args.client)
        print(json.dumps(result))
        return

    from openai_server import OpenAIServer, scripted

    with tempfile.TemporaryDirectory(prefix="opro-bench-loop-") as tmp, OpenAIServer() as server:
        server.responder = functools.partial(scripted, scripts())
        os.environ["OPENAI_API_BASE"] = server.base_url  # the cases' litellm calls go there
        os.environ["OPENAI_API_KEY"] = "sk-loopback-not-a-key"
        folder = Path(tmp)
        how = "LiteLLM, a loopback server" if args.client == "litellm" else "ScriptedClient"
        print(
            f"{args.examples} examples ({args.examples // 2} train), {args.steps} steps of "
            f"{args.per_step} candidates, concurrency 8, scripted models through {how}"
        )
        print(
            f"{'case':<12} {'calls':>7} {'cached':>7} {'wall':>8} {'per call':>9} "
            f"{'peak RSS':>9} {'run dir':>8}"
        )
        results = {}
        for case, label in (("none", "no cache"), ("cold", "cold cache"), ("warm", "warm cache")):
            r = results[case] = in_subprocess(folder, args, case)
            answered = r["calls"] + r["cache_hits"]
            print(
                f"{label:<12} {r['calls']:>7,} {r['cache_hits']:>7,} {r['wall_s']:>7.1f}s "
                f"{1000 * r['wall_s'] / max(answered, 1):>7.2f}ms {r['peak_mb']:>7.0f}MB "
                f"{r['run_mb']:>6.1f}MB"
            )
        run_dir = results["none"]["run_dir"]
        opro = [sys.executable, "-m", "opro_cli"]
        details = timed([*opro, "report", run_dir])
        html = timed([*opro, "report", run_dir, "--format", "html", "--output", f"{tmp}/r.html"])
        print(f"opro report RUN: {details:.2f}s; --format html: {html:.2f}s")


if __name__ == "__main__":
    main()
