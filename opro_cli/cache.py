"""A persistent cache of model responses in SQLite, shared safely between concurrent runs.

Location: ``$OPRO_CACHE_DIR``, else ``$XDG_CACHE_HOME/opro``, else ``~/.cache/opro``; one file,
``responses.sqlite3``, in WAL mode. Keys are sha256 hashes of the canonical JSON of the model,
the call parameters that decide the answer and the messages. Only successful responses are
stored; errors never are. A ``local/`` model is keyed by its file's content fingerprint
(``models.local.model_fingerprint``) as well as its name, so replacing a GGUF file at the same
path never returns the old file's answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from opro_cli.errors import InputError
from opro_cli.models.base import CallParams, Completion, Message
from opro_cli.models.providers import provider_of
from opro_cli.secrets import StoredRedactor

FILE_NAME = "responses.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    completion TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("OPRO_CACHE_DIR"):
        return Path(env["OPRO_CACHE_DIR"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "opro"


def is_cacheable(params: CallParams) -> bool:
    """Deterministic calls only: temperature 0, or an explicit seed."""
    return params.temperature == 0 or params.seed is not None


def cache_key(messages: Sequence[Message], params: CallParams) -> str:
    decisive = {
        "model": params.model,
        **_weights(params.model),
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
        "seed": params.seed,
        "stop": list(params.stop) if params.stop else None,
        "api_base": params.api_base,
        "extra": dict(params.extra),
        "messages": [dict(m) for m in messages],
    }
    canonical = json.dumps(decisive, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _weights(model: str) -> dict[str, str | None]:
    """For an in-process model, what identifies its weights (the name alone does not: a path
    names whatever file is there now); nothing for a hosted model, whose name is the identity."""
    if provider_of(model) != "local":
        return {}
    from opro_cli.models.local import model_fingerprint

    return {"weights": model_fingerprint(model.split("/", 1)[1])}


class ResponseCache:
    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(SCHEMA)
            self._conn.commit()
        except (OSError, sqlite3.Error) as exc:
            raise InputError(
                f"{self.path}: cannot open the response cache ({exc})",
                hint="set OPRO_CACHE_DIR to a writable folder, or run with --no-cache",
            ) from None
        self._lock = threading.Lock()
        self._redact_stored = StoredRedactor()

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT completion FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row[0])
        return Completion(**data)

    def put(self, key: str, model: str, completion: Completion) -> None:
        record = asdict(completion)
        record.update(
            text=self._redact_stored(completion.text),
            latency_s=0.0,
            retries=0,
            cached=False,
            deployment=None,  # a cached answer came from no deployment
        )
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses (key, model, completion, created_at) "
                "VALUES (?, ?, ?, ?)",
                (key, model, json.dumps(record), time.time()),
            )
            self._conn.commit()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT model, COUNT(*) FROM responses GROUP BY model ORDER BY model"
            ).fetchall()
        size = sum(p.stat().st_size for p in self.path.parent.glob(FILE_NAME + "*") if p.is_file())
        return {
            "path": str(self.path),
            "entries": sum(n for _, n in rows),
            "bytes": size,
            "models": dict(rows),
        }

    def clear(self) -> int:
        with self._lock:
            count = self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
            self._conn.execute("DELETE FROM responses")
            self._conn.commit()
            self._conn.execute("VACUUM")
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
