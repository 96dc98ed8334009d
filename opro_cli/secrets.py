"""Keep secrets out of everything opro writes: messages, run files, reports."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
_KEY_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+[A-Za-z0-9._\-]{8,}|AIza[0-9A-Za-z_\-]{20,})"
)
MASK = "***"


def secret_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """Names of environment variables that look like credentials (names only, never values)."""
    env = os.environ if environ is None else environ
    return sorted(name for name, value in env.items() if _SECRET_NAME.search(name) and value)


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Mask every credential-looking value from the environment and every key-shaped string."""
    env = os.environ if environ is None else environ
    for name in secret_names(env):
        value = env[name]
        if len(value) >= 6:
            text = text.replace(value, MASK)
    return _KEY_SHAPES.sub(MASK, text)
