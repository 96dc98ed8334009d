"""``--set path.to.key=value``: change a spec's value from the command line.

The value is read as YAML (``--set budget.steps=3`` is a number, ``--set 'seed_prompts=[a, b]'``
a list, ``--set scorer.api_base=null`` empty); a path that does not exist yet is created, so
``--set tracking.mlflow.experiment=x`` works on a spec without a ``tracking`` section. A number in
a path indexes a list (``--set seed_prompts.0=Hi``). Overrides apply after ``${VAR}``
interpolation and are not interpolated themselves (the shell already expands ``$VAR``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from opro_cli.errors import UsageError

# Sections a spec may give as a single value, and the key that value stands for
SHORT_FORMS: dict[tuple[str, ...], str] = {("metric",): "name"}


@dataclass(frozen=True)
class Override:
    path: tuple[str, ...]
    value: Any
    text: str  # as given, for messages


def parse_override(text: str) -> Override:
    key, sep, value_text = text.partition("=")
    parts = tuple(part.strip() for part in key.split("."))
    if not sep or not key.strip() or any(not part for part in parts):
        raise UsageError(
            f"--set {text}: expected path.to.key=value",
            hint="e.g. --set budget.steps=3 or --set scorer.model=openai/gpt-4o-mini",
        )
    try:
        value = yaml.safe_load(value_text) if value_text.strip() else ""
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(
            f"--set {text}: the value is not valid YAML ({problem})",
            hint="quote it for the shell and for YAML: --set 'task=\"a: b\"'",
        ) from None
    return Override(parts, value, text)


def apply_overrides(raw: dict[str, Any], overrides: Sequence[Override]) -> dict[str, Any]:
    """A copy of the parsed spec with each override applied in order."""
    result = copy.deepcopy(raw)
    for override in overrides:
        node: Any = result
        for depth, part in enumerate(override.path):
            last = depth == len(override.path) - 1
            here = ".".join(override.path[:depth]) or "the spec"
            if isinstance(node, dict):
                if last:
                    node[part] = override.value
                elif not isinstance(node.get(part), (dict, list)):
                    short = SHORT_FORMS.get(override.path[: depth + 1])
                    if short is not None and isinstance(node.get(part), str):
                        node[part] = {short: node[part]}
                    elif node.get(part) is not None:
                        raise _not_a_section(override, ".".join(override.path[: depth + 1]))
                    else:
                        node[part] = {}
                if not last:
                    node = node[part]
            elif isinstance(node, list):
                if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                    raise UsageError(
                        f"--set {override.text}: {here} is a list of {len(node)}; "
                        f"'{part}' is not one of its positions",
                        hint=f"use 0 to {len(node) - 1}, or set the whole list: "
                        f"--set '{here}=[a, b]'",
                    )
                if last:
                    node[int(part)] = override.value
                else:
                    node = node[int(part)]
            else:
                raise _not_a_section(override, here)
    return result


def _not_a_section(override: Override, here: str) -> UsageError:
    return UsageError(
        f"--set {override.text}: {here} is a single value, not a section with keys",
        hint=f"set it as a whole: --set '{here}={{...}}'",
    )
