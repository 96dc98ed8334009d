"""The spec's JSON Schema (``opro schema``): every key described, short forms as unions, the
example configs valid against it, and the README's spec reference in step with the model."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.spec import JudgeSpec, RunSpec, ScorerSpec
from opro_cli.spec.reference import DESCRIPTIONS
from opro_cli.spec.schema import MODELINE, SCHEMA_FILE, described_paths, spec_schema

ROOT = Path(__file__).parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(spec_schema())


def model_paths(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    """Every key of the spec by dotted path (its YAML spelling), with the field's info. The
    judge metric's settings are written beside ``name: judge``, so ``metric.judge.rubric`` is
    spelled ``metric.rubric``."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        if key == "metric.judge":
            out.update(model_paths(JudgeSpec, "metric."))
            continue
        out[key] = field
        for arg in _models_in(field.annotation):
            out.update(model_paths(arg, key + "."))
    return out


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds, through unions, tuples and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        for model in _models_in(arg):
            if model not in found:
                found.append(model)
    return found


def test_every_key_is_described_once_and_every_description_names_a_key() -> None:
    fields = model_paths(RunSpec)
    assert set(described_paths()) == set(fields)
    in_model = {path for path, field in fields.items() if field.description}
    in_reference = set(DESCRIPTIONS) - {""}
    assert in_reference <= set(fields), "reference.py describes keys that do not exist"
    assert set(fields) - in_model - in_reference == set(), "keys with no description"
    assert in_model & in_reference == set(), "keys described twice: keep one"


def test_every_property_of_the_schema_has_a_description() -> None:
    schema = spec_schema()
    for definition in [schema, *schema["$defs"].values()]:
        for key, prop in definition.get("properties", {}).items():
            assert prop.get("description"), key


def test_the_schema_is_valid_json_schema_with_descriptions_everywhere() -> None:
    schema = spec_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    scorer = schema["$defs"]["ScorerSpec"]["properties"]
    assert scorer["max_tokens"]["default"] == ScorerSpec().max_tokens
    assert scorer["model"]["description"].startswith("a LiteLLM model string")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_example_config_is_valid_and_names_the_schema(config: Path) -> None:
    text = config.read_text(encoding="utf-8")
    assert text.splitlines()[0] == MODELINE
    errors = list(validator().iter_errors(yaml.safe_load(text)))
    assert errors == []


def test_the_shipped_schema_file_is_what_opro_schema_prints() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == spec_schema()
    shipped = (ROOT / "configs" / SCHEMA_FILE).read_text(encoding="utf-8")
    assert shipped == result.output, "run: opro schema -o configs/opro.schema.json"


def minimal(**more: Any) -> dict[str, Any]:
    return {
        "name": "x",
        "task": "t",
        "seed_prompts": ["a"],
        "dataset": {"path": "d.jsonl", "input": "q", "target": "a"},
        **more,
    }


def messages(spec: dict[str, Any]) -> list[str]:
    return [e.message for e in validator().iter_errors(spec)]


def test_unknown_keys_are_rejected_at_every_level() -> None:
    assert messages(minimal()) == []
    assert any("'stepz'" in m for m in messages(minimal(budget={"stepz": 3})))
    assert any("'colour'" in m for m in messages(minimal(colour="red")))
    assert messages(minimal(scorer={"model": "m", "extra": {"top_p": 0.5}})) == []


def test_short_forms_are_unions() -> None:
    assert messages(minimal(seed_prompts="Answer.", metric="f1")) == []
    assert messages(minimal(metric={"name": "regex", "pattern": "x"})) == []
    assert messages(minimal(metric="exact-match")) != []
    assert messages(minimal(seed_prompts=[])) != []


def test_opro_schema_writes_a_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schema", "-o", str(tmp_path / "s.json")])
    assert result.exit_code == 0
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8")) == spec_schema()


# ---------------------------------------------------------------------------------------------
# The README's spec reference


def readme_spec() -> dict[str, Any]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The run spec") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block is not None
    data: dict[str, Any] = yaml.safe_load(block.group(1))
    return data


MISSING = object()


def leaf(data: dict[str, Any], path: str) -> Any:
    """The value at ``path``; ``MISSING`` below an optional section shown as null or a list
    shown empty (whose keys the README names in a comment or its own section)."""
    value: Any = data
    for part in path.split("."):
        if value is None or value == []:
            return MISSING
        value = value[part]
    return value


# Keys the README shows with an example value instead of the default
EXAMPLE_VALUES = {"dataset.path"}
# Keys the README documents in their own sections (the judge metric, seed prompt files)
JUDGE_KEYS = {f"metric.{key}" for key in JudgeSpec.model_fields}


def test_readme_spec_reference_lists_every_key_with_its_real_default() -> None:
    data = readme_spec()
    RunSpec.model_validate(data)  # the reference is itself a valid spec
    assert list(validator().iter_errors(data)) == []
    for path, field in model_paths(RunSpec).items():
        if path.split(".")[:2] in [k.split(".") for k in JUDGE_KEYS] or path.startswith(
            "seed_prompts."
        ):
            continue  # documented with the judge metric and with seed prompt files
        shown = leaf(data, path)  # KeyError: a key missing from the README
        if shown is MISSING or field.is_required() or path in EXAMPLE_VALUES:
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            continue  # a section: its keys are checked one by one
        if isinstance(default, tuple):
            default = list(default)
        assert shown == default, f"README spec reference: {path}: {shown!r}, default {default!r}"
