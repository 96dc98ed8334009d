"""``--env-file PATH``: load environment variables from a dotenv file, only when asked.

opro never reads a ``.env`` file by itself (and keeps LiteLLM from doing so). The format is the
common subset of python-dotenv and docker compose::

    # a comment
    OPENAI_API_KEY=sk-...              # unquoted: spaces trimmed, ' #' starts a comment
    export AZURE_API_BASE=https://...  # 'export ' is allowed
    GREETING="two\\nlines"              # double quotes: \\n \\t \\" \\\\ escapes
    PATTERN='a $literal \\n'            # single quotes: taken as they are

No variable expansion inside the file and no values over several lines. Variables already set in
the environment win over the file (as with python-dotenv and docker compose), so a CI secret is
never replaced by a developer's file.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from pathlib import Path

from opro_cli.errors import UsageError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def read_env_file(path: Path) -> dict[str, str]:
    """The variables a dotenv file sets, in order; ``UsageError`` names ``file:line``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"--env-file {path}: file not found", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--env-file {path}: cannot read ({exc})") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            name, value = _parse_line(stripped)
        except ValueError as exc:
            raise UsageError(
                f"{path}:{number}: {exc}",
                hint="write NAME=value, one per line (quote values with spaces or #)",
            ) from None
        values[name] = value
    return values


def load_env_file(path: Path, environ: MutableMapping[str, str]) -> list[str]:
    """Set the file's variables in ``environ`` where they are not set already; returns the
    names that were set (names only: values may be credentials)."""
    loaded = []
    for name, value in read_env_file(path).items():
        if name not in environ:
            environ[name] = value
            loaded.append(name)
    return loaded


def _parse_line(line: str) -> tuple[str, str]:
    if line.startswith("export "):
        line = line[len("export ") :].lstrip()
    name, sep, rest = line.partition("=")
    name = name.strip()
    if not sep:
        raise ValueError(f"no '=' in {name[:40]!r}")
    if not _NAME.match(name):
        raise ValueError(f"{name[:40]!r} is not a variable name (letters, digits, _)")
    rest = rest.lstrip()
    if rest.startswith('"'):
        value, tail = _double_quoted(rest[1:])
    elif rest.startswith("'"):
        end = rest.find("'", 1)
        if end < 0:
            raise ValueError(f"{name}: the single quote is not closed on this line")
        value, tail = rest[1:end], rest[end + 1 :]
    else:
        value = re.split(r"\s#", rest, maxsplit=1)[0].strip()
        tail = ""
    tail = tail.strip()
    if tail and not tail.startswith("#"):
        raise ValueError(f"{name}: text after the closing quote ({tail[:20]!r})")
    return name, value


def _double_quoted(text: str) -> tuple[str, str]:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        if char == '"':
            return "".join(out), text[i + 1 :]
        out.append(char)
        i += 1
    raise ValueError("the double quote is not closed on this line")
