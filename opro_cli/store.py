"""The run directory writer: creates a run, follows the optimizer's events, and marks the end.

Every JSONL line is flushed when written, so a crash loses at most the calls in flight;
``manifest.json``, ``summary.json`` and ``best_prompt.txt`` are replaced atomically. The format
itself (names, records) lives in ``rundir``.

Data that is read back (the spec snapshot, records, the summary) is written as it is, except for
the value of a credential environment variable that got into it by accident
(``secrets.redact_stored``); what people read (``best_prompt.txt``, the command, the reason) is
filtered like every output (``secrets.redact``).
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from opro_cli import __version__, rundir
from opro_cli.core.events import (
    BudgetStop,
    CandidateScored,
    EvaluationDone,
    Event,
    MetaPromptBuilt,
    StepDone,
)
from opro_cli.core.judge import JUDGE_PROMPT_VERSION
from opro_cli.data import Splits
from opro_cli.errors import RunDirError
from opro_cli.rundir import CandidateRecord, DatasetInfo, Manifest, Summary
from opro_cli.secrets import StoredRedactor, redact, redact_stored
from opro_cli.spec import RunSpec, spec_to_yaml

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def _file_mode() -> int:
    """The mode a new file gets here (0644 under the usual umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def atomic_write(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600; every run file gets the same mode
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class RunStore:
    """Writes one run directory; subscribe it to the optimizer's events."""

    def __init__(self, path: Path, manifest: Manifest, lock: RunLock) -> None:
        self.path = path
        self.manifest = manifest
        self._lock = lock
        self._redact_stored = StoredRedactor()
        self._handles: dict[str, IO[str]] = {
            name: (path / name).open("a", encoding="utf-8") for name in rundir.JSONL_FILES
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
            path = _new_folder(runs_dir, f"{stamp}-{spec.name}")
            lock = RunLock.acquire(path)
            atomic_write(path / rundir.CONFIG, spec_to_yaml(spec, redact_stored))
        except OSError as exc:
            raise RunDirError(
                f"{runs_dir}: cannot create the run directory ({exc.strerror})",
                hint="choose a writable folder with --runs-dir (and check the disk is not full)",
            ) from None
        manifest = Manifest(
            name=spec.name,
            status="running",
            reason=None,
            opro_version=__version__,
            litellm_version=package_version("litellm"),
            python=platform.python_version(),
            command=redact(" ".join(["opro", *sys.argv[1:]])),
            seed=spec.seed,
            dataset=DatasetInfo(
                path=spec.dataset.path,
                split_files=spec.dataset.split.uses_files,
                sha256=splits.sha256,
                seed=spec.dataset.seed,
                sizes={s: len(splits.get(s)) for s in rundir.SPLITS},
                test_ids_sha256=splits.test_ids_sha256,
            ),
            scorer=spec.scorer.model,
            optimizer=spec.optimizer.model,
            judge=spec.metric.judge.model if spec.metric.judge else None,
            judge_prompt_version=JUDGE_PROMPT_VERSION if spec.metric.judge else None,
            deployments=spec.deployment_names(),
            planned_calls=planned_calls,
            planned_cost_usd=planned_cost_usd,
            started_at=started.isoformat(),
        )
        store = cls(path, manifest, lock)
        store._write_manifest()
        return store

    @classmethod
    def reopen(
        cls, path: Path, may_continue: Callable[[Manifest], bool] = lambda m: True
    ) -> RunStore:
        """Continue a run (unfinished, or finished with failed calls to make again): evaluations
        are kept and appended to; the files derived from them (candidates, steps, meta-prompts,
        and the summary at the end) are written again as the run replays.
        ``RunDirError`` when another process is writing the run."""
        lock = RunLock.acquire(path)
        manifest = rundir.read_manifest(path)
        if not may_continue(manifest):  # another process finished it meanwhile
            lock.release()
            raise RunDirError(
                f"{path}: the run is already {manifest.status}, with every call answered",
                hint="start a new one with opro run SPEC",
            )
        for name in rundir.REPLAYED_FILES:
            (path / name).write_text("", encoding="utf-8")
        for name in (rundir.SUMMARY, rundir.BEST_PROMPT):  # written again when it finishes
            (path / name).unlink(missing_ok=True)
        _repair_last_line(path / rundir.EVALUATIONS)
        manifest = replace(
            manifest,
            status="running",
            reason=None,
            ended_at=None,
            resumed_at=(*manifest.resumed_at, utc_now().isoformat()),
        )
        store = cls(path, manifest, lock)
        store._write_manifest()
        return store

    # -- events -------------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if isinstance(event, EvaluationDone):
            self._line(rundir.EVALUATIONS, event.evaluation)
        elif isinstance(event, CandidateScored) and event.split == "train":
            c = event.candidate
            record = CandidateRecord(
                c.id,
                c.step,
                c.origin,
                c.text,
                event.score,
                event.examples,
                event.errors,
                event.truncated,
                event.stopped,
                event.eligible,
            )
            self._line(rundir.CANDIDATES, record)
        elif isinstance(event, MetaPromptBuilt):
            self._line(rundir.META_PROMPTS, event.record)
        elif isinstance(event, StepDone):
            self._line(rundir.STEPS, event.record)
        elif isinstance(event, BudgetStop):
            self.manifest = replace(self.manifest, reason=event.reason)

    def _line(self, name: str, record: Any) -> None:
        handle = self._handles[name]
        handle.write(rundir.dumps(self._redact_stored.tree(record.to_json())) + "\n")
        handle.flush()

    # -- the end ------------------------------------------------------------------------------

    def complete(self, summary: Summary, best_prompt: str) -> Summary:
        """Write the winner and the summary, then mark the run finished with its status."""
        summary = replace(summary, name=self.manifest.name, run_dir=str(self.path))
        atomic_write(self.path / rundir.BEST_PROMPT, redact(best_prompt) + "\n")
        stored = self._redact_stored.tree(summary.to_json())
        atomic_write(self.path / rundir.SUMMARY, rundir.dumps(stored) + "\n")
        self.finish(summary.status, summary.reason)
        return summary

    def finish(self, status: rundir.Status, reason: str | None = None) -> None:
        self.close()
        self.manifest = replace(
            self.manifest,
            status=status,
            reason=redact(reason) if reason is not None else self.manifest.reason,
            ended_at=utc_now().isoformat(),
        )
        self._write_manifest()
        self._lock.release()

    def close(self) -> None:
        for handle in self._handles.values():
            if not handle.closed:
                handle.flush()
                handle.close()

    def _write_manifest(self) -> None:
        atomic_write(self.path / rundir.MANIFEST, rundir.dumps(self.manifest.to_json()) + "\n")


def _new_folder(parent: Path, name: str) -> Path:
    """Create ``parent/name``, or ``name-2``, ``name-3``... when taken: atomic, so two runs
    started in the same second never share a folder."""
    suffix = 1
    while True:
        path = parent / (name if suffix == 1 else f"{name}-{suffix}")
        try:
            path.mkdir()
        except FileExistsError:
            suffix += 1
            continue
        return path


class RunLock:
    """One writer per run directory: an exclusive lock on its ``.lock`` file, which the
    operating system releases when the process ends, however it ends (even kill -9)."""

    def __init__(self, handle: IO[str] | None) -> None:
        self._handle = handle

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        if fcntl is None:  # not on this platform: runs are not protected from each other
            return cls(None)
        path = run_dir / rundir.LOCK
        try:
            handle = path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise RunDirError(f"{path}: cannot open the run's lock ({exc.strerror})") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunDirError(
                f"{run_dir}: the run is in progress ({holder} is writing it)",
                hint="wait for it to finish, or stop it (Ctrl-C) before resuming it",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        return cls(handle)

    def release(self) -> None:
        if self._handle is not None and not self._handle.closed:
            self._handle.close()  # closing the file releases the lock


def _repair_last_line(path: Path) -> None:
    """Drop a half-written last line (a crash in the middle of a write) so appends stay valid."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as handle:
            handle.truncate(cut)
