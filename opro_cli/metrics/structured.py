"""The json metric: the answer's JSON, checked against a JSON Schema and compared with the
target's, as a whole or field by field."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from opro_cli.errors import MetricError
from opro_cli.metrics.base import MISSING, ExampleLike, ScoreFn, normalize, on_example, short_repr
from opro_cli.metrics.text import f1
from opro_cli.spec import MetricSpec

# ---------------------------------------------------------------------------------------------
# json

_FENCE_RE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)
JSON_WHERE = "metric 'json'"


def extract_json(text: str) -> Any:
    """The JSON value an answer gives, or ``MISSING``: the whole text if it is JSON, else the
    first fenced block that is, else the first object or array that parses in the text."""
    decoder = json.JSONDecoder()
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        pass
    for block in _FENCE_RE.finditer(text):
        try:
            return json.loads(block.group(1))
        except (ValueError, RecursionError):
            continue
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        except RecursionError:
            break  # so is every later start inside it: no answer nests this deep
        return value
    return MISSING


def json_metric(spec: MetricSpec) -> ScoreFn:
    validator = _load_schema(Path(spec.json_schema)) if spec.json_schema else None
    fields = [_path(field) for field in spec.fields] if spec.fields is not None else None

    def json_match(prediction: str, example: ExampleLike) -> float:
        want = _target_json(example)
        got = extract_json(prediction)
        if got is MISSING:
            return 0.0
        if validator is not None and not _valid(validator, got, spec.json_schema, example):
            return 0.0
        if fields is None:
            return float(_same(got, want, spec))
        scores = [_field_score(_get(got, path), _get(want, path), spec) for path in fields]
        return math.fsum(scores) / len(scores)

    return json_match


def _load_schema(path: Path) -> Any:
    from jsonschema import SchemaError, validators

    where = f"{path}"
    hint = "metric.schema names a JSON Schema file, relative to the spec"
    if not path.is_file():
        raise MetricError(f"{where}: schema file not found", hint=hint)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise MetricError(f"{where}: not UTF-8 text", hint="save the schema as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise MetricError(
            f"{where}:{exc.lineno}: not valid JSON ({exc.msg})", hint="fix the schema file"
        ) from None
    except OSError as exc:
        raise MetricError(f"{where}: cannot read ({exc.strerror})") from None
    if not isinstance(schema, dict | bool):
        raise MetricError(
            f"{where}: a JSON Schema is an object, not {type(schema).__name__}",
            hint='e.g. {"type": "object", "required": ["name"]}',
        )
    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        at = "/".join(str(part) for part in exc.path)
        raise MetricError(
            f"{where}: not a valid JSON Schema ({'at ' + at + ': ' if at else ''}{exc.message})",
            hint="fix the schema file",
        ) from None
    return cls(schema)


def _valid(validator: Any, value: Any, schema: str | None, example: ExampleLike) -> bool:
    from referencing.exceptions import Unresolvable

    try:
        return bool(validator.is_valid(value))
    except Unresolvable as exc:
        raise MetricError(
            f"{on_example(JSON_WHERE, example.id)}: the schema {schema} refers to {exc}, which "
            "opro cannot resolve",
            hint="put the referenced schema inside the file; opro does not fetch schemas",
        ) from None


def _target_json(example: ExampleLike) -> Any:
    try:
        return json.loads(example.target)
    except ValueError:
        raise MetricError(
            f"{on_example(JSON_WHERE, example.id)}: the target is not JSON "
            f"({short_repr(example.target)})",
            hint='the target column must hold JSON, e.g. {"name": "Ada", "city": "London"}',
        ) from None


def _path(field: str) -> tuple[str, ...]:
    return tuple(field.split("."))


def _get(value: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path; a number indexes a list; ``MISSING`` when there is none."""
    for part in path:
        if isinstance(value, dict):
            value = value.get(part, MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
        if value is MISSING:
            return value
    return value


def _field_score(got: Any, want: Any, spec: MetricSpec) -> float:
    if spec.field_match == "f1":
        return f1(_as_text(got), _as_text(want))
    return float(_same(got, want, spec))


def _same(got: Any, want: Any, spec: MetricSpec) -> bool:
    """JSON equality with the spec's text normalisation on strings and ``tolerance`` on numbers;
    a missing field equals null; true is not 1."""
    got = None if got is MISSING else got
    want = None if want is MISSING else want
    if isinstance(got, str) and isinstance(want, str):
        return normalize(got, spec) == normalize(want, spec)
    if isinstance(got, bool) or isinstance(want, bool):
        return isinstance(got, bool) and isinstance(want, bool) and got == want
    if isinstance(got, int | float) and isinstance(want, int | float):
        return abs(got - want) <= spec.tolerance
    if isinstance(got, dict) and isinstance(want, dict):
        keys = {k for k, v in got.items() if v is not None} | {
            k for k, v in want.items() if v is not None
        }
        return all(_same(got.get(k), want.get(k), spec) for k in keys)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(
            _same(g, w, spec) for g, w in zip(got, want, strict=True)
        )
    return got is None and want is None


def _as_text(value: Any) -> str:
    """A field's words for F1: strings as they are, lists and objects by their leaves."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_as_text(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_as_text(v) for v in value)
    return json.dumps(value)
