"""The run directory: one folder per run, written as the run goes, readable by ``opro report``.

    runs/<UTC timestamp>-<name>/
        config.yaml         the resolved spec
        manifest.json       status, versions, seed, dataset hash, models, times (atomic writes)
        candidates.jsonl    one line per candidate scored on train
        evaluations.jsonl   one line per model call of the scorer
        steps.jsonl         one line per step: best so far, mean, calls, tokens, cost
        meta_prompts.jsonl  one line per step: the meta-prompt and what the optimizer answered
        best_prompt.txt     the winner (written at the end)
        summary.json        the final numbers (written at the end, atomically)

Every JSONL line is flushed when written, so a crash loses at most the calls in flight.
Nothing written here contains a secret: every line passes through ``secrets.redact``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from opro_cli import __version__
from opro_cli.core.events import (
    BudgetStop,
    CandidateScored,
    EvaluationDone,
    Event,
    MetaPromptBuilt,
    StepDone,
)
from opro_cli.data import Splits
from opro_cli.errors import RunDirError
from opro_cli.secrets import redact
from opro_cli.spec import RunSpec, spec_to_yaml

SCHEMA_VERSION = 1
FILES = ("candidates", "evaluations", "steps", "meta_prompts")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def atomic_write(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=False)


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class RunStore:
    """Writes one run directory; subscribe it to the optimizer's events."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self._handles: dict[str, IO[str]] = {
            name: (path / f"{name}.jsonl").open("a", encoding="utf-8") for name in FILES
        }

    @classmethod
    def create(
        cls,
        runs_dir: Path,
        spec: RunSpec,
        splits: Splits,
        *,
        planned_calls: dict[str, int],
        planned_cost_usd: float | None = None,
    ) -> RunStore:
        started = utc_now()
        stamp = started.strftime("%Y%m%dT%H%M%SZ")
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
            path = runs_dir / f"{stamp}-{spec.name}"
            suffix = 1
            while path.exists():
                suffix += 1
                path = runs_dir / f"{stamp}-{spec.name}-{suffix}"
            path.mkdir()
        except OSError as exc:
            raise RunDirError(
                f"{runs_dir}: cannot create the run directory ({exc.strerror})",
                hint="choose a writable folder with --runs-dir",
            ) from None
        atomic_write(path / "config.yaml", redact(spec_to_yaml(spec)))
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "name": spec.name,
            "status": "running",
            "reason": None,
            "opro_version": __version__,
            "litellm_version": package_version("litellm"),
            "python": platform.python_version(),
            "command": redact(" ".join(["opro", *sys.argv[1:]])),
            "seed": spec.seed,
            "dataset": {
                "path": spec.dataset.path,
                "split_files": spec.dataset.split.uses_files,
                "sha256": splits.sha256,
                "seed": spec.dataset.seed,
                "sizes": {s: len(splits.get(s)) for s in ("train", "val", "test")},
            },
            "models": {"scorer": spec.scorer.model, "optimizer": spec.optimizer.model},
            "planned_calls": planned_calls,
            # an estimate made before any call; None where litellm knows no price for a model
            "planned_cost_usd": planned_cost_usd,
            "started_at": started.isoformat(),
            "ended_at": None,
        }
        store = cls(path, manifest)
        store._write_manifest()
        return store

    @classmethod
    def reopen(cls, path: Path) -> RunStore:
        """Continue an unfinished run: evaluations are kept and appended to; the files derived
        from them (candidates, steps, meta-prompts) are written again as the run replays."""
        manifest = read_manifest(path)
        for name in ("candidates", "steps", "meta_prompts"):
            (path / f"{name}.jsonl").write_text("", encoding="utf-8")
        _repair_last_line(path / "evaluations.jsonl")
        manifest["status"] = "running"
        manifest["reason"] = None
        manifest["ended_at"] = None
        manifest.setdefault("resumed_at", []).append(utc_now().isoformat())
        store = cls(path, manifest)
        store._write_manifest()
        return store

    # -- events -------------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if isinstance(event, EvaluationDone):
            e = event.evaluation
            self._line(
                "evaluations",
                {
                    "candidate_id": e.candidate_id,
                    "split": e.split,
                    "example_id": e.example_id,
                    "output": e.output,
                    "score": e.score,
                    "prompt_tokens": e.prompt_tokens,
                    "completion_tokens": e.completion_tokens,
                    "cost_usd": e.cost_usd,
                    "latency_s": round(e.latency_s, 4),
                    "retries": e.retries,
                    "cached": e.cached,
                    "error": e.error,
                },
            )
        elif isinstance(event, CandidateScored) and event.split == "train":
            c = event.candidate
            self._line(
                "candidates",
                {
                    "id": c.id,
                    "step": c.step,
                    "origin": c.origin,
                    "text": c.text,
                    "train_score": event.score,
                    "examples": event.examples,
                    "errors": event.errors,
                },
            )
        elif isinstance(event, MetaPromptBuilt):
            self._line(
                "meta_prompts",
                {
                    "step": event.step,
                    "exemplar_ids": list(event.exemplar_ids),
                    "meta_prompt": event.text,
                    "samples": list(event.samples),
                },
            )
        elif isinstance(event, StepDone):
            u = event.usage
            self._line(
                "steps",
                {
                    "step": event.step,
                    "best_score": event.best_score,
                    "best_id": event.best_id,
                    "mean_score": event.mean_score,
                    "proposed": event.proposed,
                    "new_candidates": event.new_candidates,
                    "calls": u.calls,
                    "failed_calls": u.failed_calls,
                    "retries": u.retries,
                    "tokens": u.tokens,
                    "cost_usd": u.cost_usd,
                    "elapsed_s": round(event.elapsed_s, 3),
                },
            )
        elif isinstance(event, BudgetStop):
            self.manifest["reason"] = event.reason

    def _line(self, name: str, record: dict[str, Any]) -> None:
        handle = self._handles[name]
        handle.write(redact(_json(record)) + "\n")
        handle.flush()

    # -- the end ------------------------------------------------------------------------------

    def complete(self, summary: dict[str, Any], best_prompt: str) -> dict[str, Any]:
        """Write the winner and the summary, then mark the run finished with its status."""
        summary = {"schema_version": SCHEMA_VERSION, "name": self.manifest["name"], **summary}
        summary["run_dir"] = str(self.path)
        atomic_write(self.path / "best_prompt.txt", redact(best_prompt) + "\n")
        atomic_write(self.path / "summary.json", redact(_json(summary)) + "\n")
        self.finish(summary["status"], summary.get("reason"))
        return summary

    def finish(self, status: str, reason: str | None = None) -> None:
        self.close()
        self.manifest["status"] = status
        if reason is not None:
            self.manifest["reason"] = redact(reason)
        self.manifest["ended_at"] = utc_now().isoformat()
        self._write_manifest()

    def close(self) -> None:
        for handle in self._handles.values():
            if not handle.closed:
                handle.flush()
                handle.close()

    def _write_manifest(self) -> None:
        atomic_write(self.path / "manifest.json", _json(self.manifest) + "\n")


# ---------------------------------------------------------------------------------------------
# Reading


def read_manifest(path: Path) -> dict[str, Any]:
    file = path / "manifest.json"
    if not file.is_file():
        raise RunDirError(f"{path}: not a run directory (no manifest.json)")
    try:
        manifest: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{file}: unreadable manifest ({exc})") from None
    return manifest


def _repair_last_line(path: Path) -> None:
    """Drop a half-written last line (a crash in the middle of a write) so appends stay valid."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as handle:
            handle.truncate(cut)
