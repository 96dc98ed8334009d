"""Read JSONL run files tolerantly: shared by resume (``store``/``app``) and ``opro report``.

Only the standard library here, so ``opro report`` stays fast to start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every well-formed JSON-object line of ``path``, and a warning naming ``file:line`` for
    each line skipped. A missing file is empty; an unreadable one is one warning."""
    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return records, warnings
    except OSError as exc:
        return records, [f"{path}: unreadable, ignored ({exc.strerror})"]
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                warnings.append(f"{path}:{number}: corrupt line skipped")
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                warnings.append(f"{path}:{number}: not a JSON object, skipped")
    return records, warnings
