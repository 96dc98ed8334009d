"""The run spec as a JSON Schema (``opro schema``), for editors and other tools.

Built from ``RunSpec`` by pydantic, with each key's description from ``reference.py`` and the
short forms (``metric: exact_match``, a single seed prompt) as unions. Editors that use the
YAML language server read it from a first line ``# yaml-language-server: $schema=<file>``.
"""

from __future__ import annotations

import json
from typing import Any

from opro_cli.spec.reference import DESCRIPTIONS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILE = "opro.schema.json"
MODELINE = f"# yaml-language-server: $schema={SCHEMA_FILE}"


def spec_schema() -> dict[str, Any]:
    """The JSON Schema of a run spec, each key described by its field's own ``description``
    or, where it has none, by ``reference.DESCRIPTIONS`` (tests/test_schema.py checks that
    every key has one, from exactly one of the two)."""
    from opro_cli.spec import RunSpec

    schema = RunSpec.model_json_schema(mode="validation")
    definitions: dict[str, Any] = schema.get("$defs", {})
    _flatten_judge(definitions)
    schema["title"] = "opro run spec"
    schema["description"] = DESCRIPTIONS[""]
    _describe(schema, "", definitions)
    return {"$schema": DIALECT, **schema}


def _flatten_judge(definitions: dict[str, Any]) -> None:
    """The judge metric's settings are written beside ``name: judge`` (the spec moves them into
    ``judge`` when it reads them): show them there, as the YAML has them."""
    metric, judge = definitions.get("MetricSpec"), definitions.get("JudgeSpec")
    if metric is None or judge is None:
        return
    metric["properties"].pop("judge", None)
    for key, prop in judge["properties"].items():
        metric["properties"].setdefault(key, prop)
    definitions.pop("JudgeSpec")


def spec_schema_text() -> str:
    return json.dumps(spec_schema(), indent=2, ensure_ascii=False) + "\n"


def described_paths() -> list[str]:
    """Every dotted key path the schema has (its sections and their keys)."""
    paths: list[str] = []
    schema = spec_schema()
    _walk(schema, "", schema.get("$defs", {}), paths)
    return paths


def _describe(node: dict[str, Any], path: str, definitions: dict[str, Any]) -> None:
    for key, prop in node.get("properties", {}).items():
        child = f"{path}.{key}" if path else key
        prop.pop("title", None)
        if child in DESCRIPTIONS:
            prop["description"] = DESCRIPTIONS[child]
        for target in _refs(prop):
            _describe(definitions[target], child, definitions)


def _walk(node: dict[str, Any], path: str, definitions: dict[str, Any], out: list[str]) -> None:
    for key, prop in node.get("properties", {}).items():
        child = f"{path}.{key}" if path else key
        out.append(child)
        for target in _refs(prop):
            _walk(definitions[target], child, definitions, out)


def _refs(prop: dict[str, Any]) -> list[str]:
    """The definitions a property's schema points at: directly, in one of its anyOf forms, or
    as the type of a list's items."""
    forms = [prop, *prop.get("anyOf", []), *prop.get("allOf", [])]
    forms += [f["items"] for f in list(forms) if isinstance(f.get("items"), dict)]
    return [f["$ref"].rsplit("/", 1)[1] for f in forms if "$ref" in f]
