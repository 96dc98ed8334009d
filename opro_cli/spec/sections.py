"""The spec's sections other than the models: dataset and splits, metric, budget, selection."""

from __future__ import annotations

import re
import string
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opro_cli.core.placement import Position

DEFAULT_LOCAL_MODEL = "local/smollm2-135m-instruct"

InstructionPosition = Position

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitSpec(Frozen):
    """Either fractions of one file (``train: 0.5``) or one file per split (``train: a.jsonl``)."""

    train: float | str = 0.5
    val: float | str = 0.2
    test: float | str = 0.3
    stratify: bool = Field(
        default=False,
        description="exact label proportions in every split, at the cost of stability: with "
        "it, adding rows can move examples near a cut to the next split",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> SplitSpec:
        values = [self.train, self.val, self.test]
        kinds = {isinstance(v, str) for v in values}
        if len(kinds) > 1:
            raise ValueError(
                "mix of fractions and file paths -> give three fractions or three file paths"
            )
        if not self.uses_files:
            fractions = [float(v) for v in values]
            if any(f < 0 for f in fractions):
                raise ValueError("fractions must not be negative")
            if float(self.train) <= 0:
                raise ValueError("train fraction must be above 0 -> e.g. train: 0.5")
            if abs(sum(fractions) - 1.0) > 1e-6:
                raise ValueError(
                    f"fractions add up to {sum(fractions):g}, not 1 -> e.g. "
                    "{train: 0.5, val: 0.2, test: 0.3}"
                )
        return self

    @property
    def uses_files(self) -> bool:
        return isinstance(self.train, str)


class DatasetSpec(Frozen):
    path: str | None = None
    input: str = Field(min_length=1)
    target: str = Field(min_length=1)
    id: str | None = None
    options: str | None = None
    split: SplitSpec = SplitSpec()
    seed: int = 0
    limit: int | None = Field(default=None, ge=1)

    @field_validator("input")
    @classmethod
    def _template_parses(cls, value: str) -> str:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError as exc:
            raise ValueError(
                f"template does not parse ({exc}) -> write fields as {{column}} and double "
                "literal braces as {{{{ }}}}"
            ) from exc
        if any(not field for field in fields):
            raise ValueError("template has an empty {} -> name the column, as in {question}")
        return value

    @model_validator(mode="after")
    def _path_or_files(self) -> DatasetSpec:
        if self.path is None and not self.split.uses_files:
            raise ValueError(
                "no data -> give dataset.path, or split: {train: FILE, val: FILE, test: FILE}"
            )
        return self

    @property
    def template_fields(self) -> list[str]:
        """Columns the input template names; empty when ``input`` is a plain column name."""
        return [f for _, f, _, _ in string.Formatter().parse(self.input) if f]


class BudgetSpec(Frozen):
    steps: int = Field(default=5, ge=0)
    max_calls: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_minutes: float | None = Field(default=None, gt=0)
    patience: int | None = Field(
        default=None,
        ge=1,
        description="stop after this many steps in which the best train score did not rise by "
        "more than one standard error (and at least one example)",
    )


class SelectionSpec(Frozen):
    top_k: int = Field(default=3, ge=1, description="best train candidates scored on validation")
    bootstrap_samples: int = Field(
        default=4000,
        ge=200,
        description="resamples of the studentized bootstrap for graded metrics (0/1 metrics "
        "use exact methods)",
    )
    ci_level: float = Field(default=0.95, gt=0, lt=1)


class EvaluationSpec(Frozen):
    """How new candidates are scored on the train split."""

    strategy: Literal["full", "racing"] = Field(
        default="full",
        description="full: every proposal on the whole train split (the paper); racing: on "
        "growing parts of it, dropping a proposal once it is confidently worse than the best",
    )
    delta: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="racing: the chance of dropping a proposal as good as the best, at most",
    )
    margin: float = Field(
        default=0.0, ge=0, lt=1, description="racing: drop only when worse by more than this"
    )
