"""The metric section of the spec: which metric scores the answers, and its options."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from opro_cli.spec.models import JudgeSpec
from opro_cli.spec.sections import Frozen

MetricName = Literal[
    "exact_match", "contains", "regex", "numeric", "choice", "f1", "json", "python", "judge"
]


class MetricSpec(Frozen):
    """How answers are scored. Options other than ``name`` belong to one metric each:
    ``pattern`` (regex), ``tolerance`` (numeric and json numbers), ``choices`` and ``letters``
    (choice), ``schema``, ``fields`` and ``field_match`` (json), ``python`` (custom).

    ``letters``: whether an answer may pick an option by letter ("B", "(B)"): ``auto`` reads
    letters only when the example shows them (its target is a letter, or its input lists the
    options as "(A) ...", "A) ...", "A. ..." or "A: ..."); ``true`` always, ``false`` never.
    ``schema`` is a JSON Schema file (relative to the spec); ``fields`` are dotted paths
    (``customer.name``, ``items.0.sku``; a number indexes a list).

    The judge metric's settings (``model``, ``rubric``, ``scale``, ``reference`` and the usual
    model settings) are written beside ``name: judge`` and kept in ``judge``.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    name: MetricName = "exact_match"
    ignore_case: bool = True
    ignore_whitespace: bool = True
    ignore_punctuation: bool = False
    pattern: str | None = None
    tolerance: float = Field(default=1e-6, ge=0)
    choices: tuple[str, ...] | None = None
    letters: bool | Literal["auto"] = "auto"
    json_schema: str | None = Field(default=None, alias="schema")
    fields: tuple[str, ...] | None = None
    field_match: Literal["exact", "f1"] = "exact"
    python: str | None = None
    judge: JudgeSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _python_short_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and "python" in data and "name" not in data:
            return {**data, "name": "python"}
        return data

    @model_validator(mode="before")
    @classmethod
    def _judge_settings(cls, data: Any) -> Any:
        """``{name: judge, model: ..., rubric: ...}``: the judge's keys go to ``judge``."""
        if not isinstance(data, dict) or data.get("name") != "judge" or "judge" in data:
            return data
        mine = {k: v for k, v in data.items() if k in JudgeSpec.model_fields}
        return {**{k: v for k, v in data.items() if k not in mine}, "judge": mine}

    @field_validator("letters", mode="before")
    @classmethod
    def _letters_value(cls, value: Any) -> Any:
        if isinstance(value, bool) or value == "auto":
            return value
        raise ValueError(f"must be auto, true or false, not {value!r}")

    @model_validator(mode="after")
    def _options_fit(self) -> MetricSpec:
        if self.name == "regex":
            if not self.pattern:
                raise ValueError(
                    "regex needs a pattern -> e.g. {name: regex, pattern: 'answer is (\\w+)'}"
                )
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        if self.name == "python" and (not self.python or ":" not in self.python):
            raise ValueError("custom metric needs python: path/to/file.py:function_name")
        if self.name == "judge" and self.judge is None:
            raise ValueError(
                "judge needs a model and a rubric -> e.g. {name: judge, model: openai/gpt-4o-mini, "
                "rubric: 'The summary keeps every number of the text.'}"
            )
        if self.name != "judge" and self.judge is not None:
            raise ValueError("judge settings belong to the judge metric -> set name: judge")
        if self.letters != "auto" and self.name != "choice":
            raise ValueError("letters is an option of the choice metric -> remove it")
        if self.name != "json":
            given = [
                key
                for key, value in (
                    ("schema", self.json_schema),
                    ("fields", self.fields),
                    ("field_match", None if self.field_match == "exact" else self.field_match),
                )
                if value is not None
            ]
            if given:
                are = "is an option" if len(given) == 1 else "are options"
                them = "it" if len(given) == 1 else "them"
                raise ValueError(
                    f"{' and '.join(given)} {are} of the json metric -> set name: json, "
                    f"or remove {them}"
                )
        if self.fields is not None:
            if not self.fields:
                raise ValueError(
                    "fields is empty -> list the fields to compare, or drop fields to compare "
                    "the whole object"
                )
            for path in self.fields:
                if not path or any(not part for part in path.split(".")):
                    raise ValueError(
                        f"field {path!r} is not a dotted path -> e.g. name, customer.email, "
                        "items.0.sku"
                    )
        if self.field_match == "f1" and self.fields is None:
            raise ValueError(
                "field_match: f1 needs fields -> list the fields to compare, e.g. "
                "fields: [name, city]"
            )
        return self
