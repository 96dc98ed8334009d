"""``${VAR}`` and ``${VAR:-default}`` in a spec's values, from the environment.

Rules (those of a POSIX shell and docker compose, restricted to the braced form):

- ``${VAR}`` is the variable's value; an unset variable is an error naming the file, line and key;
- ``${VAR:-default}`` is the default when the variable is unset or empty;
- ``$${`` is a literal ``${``; a ``$`` not followed by ``{`` stays as it is (``$5`` in a prompt);
- a variable whose name says it holds a credential (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``,
  ``*_PASSWORD``, or listed in ``OPRO_SECRET_ENV``) is refused: the resolved spec is copied into
  the run directory's ``config.yaml`` and read back on resume, so a credential would be written
  to disk. Credentials stay in the environment, where LiteLLM reads them itself.

Values are substituted as text; typed keys (``steps``, ``temperature``) convert it as they convert
any quoted value. Keys are never interpolated, only values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from opro_cli.errors import SpecError
from opro_cli.secrets import is_secret_env_name
from opro_cli.spec.yamlfile import line_of

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def interpolate(
    raw: Any, environ: Mapping[str, str], *, source: Path, root: yaml.Node | None
) -> Any:
    """A copy of the parsed YAML with every ``${...}`` in its string values resolved."""

    def walk(value: Any, loc: tuple[str | int, ...]) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*loc, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            return substitute(value, environ, where=lambda: _where(source, root, loc))
        return value

    return walk(raw, ())


def substitute(
    text: str, environ: Mapping[str, str], *, where: Callable[[], str] = lambda: "spec"
) -> str:
    """``text`` with its references resolved; ``where()`` names the place in error messages."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        body = match.group(1)
        name, sep, default = body.partition(":-")
        if not _NAME.match(name):
            raise SpecError(
                f"{where()}: ${{{body}}} is not a variable reference",
                hint="write ${NAME} or ${NAME:-default}; for a literal ${ write $${",
            )
        if is_secret_env_name(name, environ):
            raise SpecError(
                f"{where()}: ${{{name}}} names a credential variable; the resolved spec is "
                "copied into the run directory, so its value would be written to disk",
                hint=f"keep {name} in the environment only: LiteLLM reads provider keys from "
                "there itself (interpolate only non-secret values: api_base, deployment names)",
            )
        value = environ.get(name)
        if value is None or (sep and value == ""):
            if sep:
                return default
            raise SpecError(
                f"{where()}: ${{{name}}} is not set",
                hint=f"export {name}=..., load it with --env-file, or give a default: "
                f"${{{name}:-value}}",
            )
        return value

    return _REFERENCE.sub(replace, text)


def _where(source: Path, root: yaml.Node | None, loc: tuple[str | int, ...]) -> str:
    line = line_of(root, loc)
    field = ".".join(str(p) for p in loc) or "(top level)"
    return f"{source}:{line}: {field}" if line else f"{source}: {field}"
