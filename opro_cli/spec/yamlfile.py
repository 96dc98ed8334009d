"""Reading a run spec file: YAML with line numbers (duplicate keys refused), and pydantic's
validation errors turned into ``file:line: field: what is wrong -> how to fix`` lines."""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from opro_cli.errors import SpecError

START_HINT = "`opro init` writes a commented example spec; `opro schema` lists every key"


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    if not path.exists():
        raise SpecError(f"{path}: file not found", hint="check the path to the run spec")
    if path.is_dir():
        raise SpecError(f"{path}: is a folder", hint="give the path of a .yaml run spec")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text", hint="save the spec as UTF-8") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(
            f"{where}: malformed YAML ({problem})",
            hint="check indentation, colons and quotes on that line",
        ) from None
    except RecursionError:
        raise SpecError(
            f"{source}: nested too deeply to read", hint="flatten the nested lists or mappings"
        ) from None
    if raw is None:
        raise SpecError(f"{source}: the spec is empty", hint=START_HINT)
    try:
        size = expanded_size(root)
    except RecursionError:
        size = MAX_EXPANDED_NODES + 1
    if size > MAX_EXPANDED_NODES:
        raise SpecError(
            f"{source}: the spec expands to more than {MAX_EXPANDED_NODES:,} values "
            "(YAML aliases repeat parts of it)",
            hint="write the values out, or use fewer nested aliases (&name / *name)",
        )
    duplicate = _duplicate_key(root)
    if duplicate is not None:
        field, line, first = duplicate
        raise SpecError(
            f"{source}:{line}: {field}: key given twice (first on line {first})",
            hint="keep one of them; YAML would silently use the last",
        )
    if not isinstance(raw, dict):
        raise SpecError(
            f"{source}: the spec must be a mapping of keys (name, task, dataset, ...)",
            hint=START_HINT,
        )
    return raw, root


# A real spec has a few hundred values; aliases that nest can make a short file expand to
# millions (a "billion laughs"), which would be copied into the run's config.yaml.
MAX_EXPANDED_NODES = 20_000


def expanded_size(root: yaml.Node | None) -> int:
    """How many values the document holds with every alias written out (counted per node
    once, so even a huge expansion costs only the size of the file to count)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # a node that contains itself counts once
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
        return sizes[id(node)]

    return size(root) if root is not None else 0


def _duplicate_key(root: yaml.Node | None) -> tuple[str, int, int] | None:
    """The first key that a mapping repeats, as (dotted field, line, line of the first one)."""
    seen_nodes: set[int] = set()

    def walk(node: yaml.Node, where: tuple[str, ...]) -> tuple[str, int, int] | None:
        if id(node) in seen_nodes:  # an alias of a node already checked
            return None
        seen_nodes.add(id(node))
        children: list[tuple[str, yaml.Node]] = []
        if isinstance(node, yaml.MappingNode):
            first_lines: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode) and name != "<<":
                    if name in first_lines:
                        return ".".join([*where, name]), line, first_lines[name]
                    first_lines[name] = line
                children.append((name, value))
        elif isinstance(node, yaml.SequenceNode):
            children = [(str(i), item) for i, item in enumerate(node.value)]
        for name, child in children:
            found = walk(child, (*where, name))
            if found is not None:
                return found
        return None

    return walk(root, ()) if root is not None else None


def validation_error(
    path: Path,
    root: yaml.Node | None,
    exc: ValidationError,
    model: type[BaseModel],
    overridden: Sequence[tuple[str, ...]] = (),
) -> SpecError:
    """One ``SpecError`` with a line per problem: ``file:line: field: what -> fix``, or
    ``--set field: what -> fix`` for a value that came from ``--set`` (``overridden``)."""
    lines = []
    for err in exc.errors()[:6]:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        field = ".".join(str(p) for p in loc) or "(top level)"
        if any(tuple(map(str, loc[: len(o)])) == o for o in overridden):
            lines.append(f"--set {field}: {_explain(err, loc, model)}")
            continue
        line = line_of(root, loc)
        where = f"{path}:{line}" if line else str(path)
        lines.append(f"{where}: {field}: {_explain(err, loc, model)}")
    more = len(exc.errors()) - 6
    if more > 0:
        lines.append(f"... and {more} more problem(s)")
    return SpecError("\n".join(lines))


def _close_match(value: Any, choices: list[str]) -> str | None:
    if not isinstance(value, str) or not choices:
        return None
    found = difflib.get_close_matches(value.lower(), choices, n=1, cutoff=0.75)
    return found[0] if found else None


def _keys_at(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the spec allows in the mapping at ``loc`` (empty where that is not a section)."""
    model: type[BaseModel] | None = root
    for part in loc:
        field = model.model_fields.get(str(part)) if model is not None else None
        if field is None:
            return []
        model = _model_in(field.annotation)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


_TYPE_WORDS = {
    "str": "a text",
    "int": "a number",
    "float": "a number",
    "bool": "true/false",
    "list": "a list",
    "NoneType": "empty",
}


def _explain(err: Any, loc: tuple[Any, ...], model: type[BaseModel]) -> str:
    kind = err["type"]
    msg = str(err["msg"])
    if kind == "extra_forbidden":
        guess = _close_match(loc[-1], _keys_at(model, loc[:-1]))
        if guess:
            return f"unknown key -> did you mean '{guess}'?"
        return "unknown key -> remove it or check its spelling (`opro schema` lists every key)"
    if kind == "missing":
        return f"required key is missing -> add it ({START_HINT})"
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        guess = _close_match(err.get("input"), allowed)
        hint = f" -> did you mean '{guess}'?" if guess else ""
        return msg.replace("Input should be", "must be one of") + hint
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        got = _TYPE_WORDS.get(type(err.get("input")).__name__, "single value")
        return f"must be a mapping of keys (key: value lines below it), not {got}"
    if kind == "too_short":
        return f"needs at least {err.get('ctx', {}).get('min_length', 1)} item(s)"
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    return msg[0].lower() + msg[1:] if msg else kind


def line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    node = root
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            match = None
            for key, value in node.value:
                if key.value == str(part):
                    match = (key, value)
                    break
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
