"""The records of the JSON files: ``Manifest`` (manifest.json) and ``Summary`` (summary.json)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, get_args

from opro_cli.rundir.fields import integer, items, mapping, num, parse_time, string
from opro_cli.rundir.layout import FINISHED, SCHEMA_VERSION, SPLITS, STATUSES, Origin, Status
from opro_cli.rundir.records import Usage


@dataclass(frozen=True)
class PromptScores:
    """A prompt with its scores (the winner, a seed): ``None`` where it was not scored.

    A seed read from a file names it (``file``, absolute); ``production`` marks the seed the
    product runs today (``spec.seeds``), the one ``opro promote`` compares with and replaces."""

    id: str | None
    text: str
    step: int | None = None
    origin: Origin | None = None
    train: float | None = None
    val: float | None = None
    test: float | None = None
    file: str | None = None
    production: bool = False

    def score(self, split: str) -> float | None:
        value: float | None = getattr(self, split)
        return value

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> PromptScores | None:
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            return None
        origin = data.get("origin")
        return cls(
            id=string(data.get("id")),
            text=data["text"],
            step=integer(data.get("step")),
            origin=origin if origin in get_args(Origin) else None,
            **{s: num(data.get(s)) for s in SPLITS},
            file=string(data.get("file")),
            production=data.get("production") is True,
        )


@dataclass(frozen=True)
class Improvement:
    """The winner's test score minus the best seed's on the test examples both answered, with
    its confidence interval and a significance verdict (``core.significance``).

    ``significant``: the winner is better at ``ci_level`` (p below 1 - level and the interval
    above 0). ``missing``: test examples left out because a call failed on either side.
    ``detectable_gain``: the smallest true gain this test split detects with 80% power.
    """

    test_delta: float
    ci_low: float | None
    ci_high: float | None
    ci_level: float | None
    n: int | None
    p_value: float | None = None
    method: str | None = None
    significant: bool | None = None  # None: written by an opro that did not test it
    detectable_gain: float | None = None
    missing: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Improvement | None:
        delta = num(mapping(data).get("test_delta"))
        if delta is None:
            return None
        significant = data.get("significant")
        return cls(
            test_delta=delta,
            ci_low=num(data.get("ci_low")),
            ci_high=num(data.get("ci_high")),
            ci_level=num(data.get("ci_level")),
            n=integer(data.get("n")),
            p_value=num(data.get("p_value")),
            method=string(data.get("method")),
            significant=significant if isinstance(significant, bool) else None,
            detectable_gain=num(data.get("detectable_gain")),
            missing=integer(data.get("missing")) or 0,
        )


@dataclass(frozen=True)
class Summary:
    """summary.json: the final numbers of a finished run."""

    status: Status
    reason: str | None
    best: PromptScores
    best_seed: PromptScores
    seeds: tuple[PromptScores, ...]
    improvement: Improvement | None
    steps_completed: int
    candidates: int
    usage: Usage
    name: str = ""
    duration_s: float | None = None
    run_dir: str | None = None
    schema_version: int = SCHEMA_VERSION
    # what a reader must know to trust the numbers: failed or cut answers, the diagnosis when
    # nothing beat the seed, why the run stopped early
    notes: tuple[str, ...] = ()

    @property
    def production(self) -> PromptScores | None:
        """The seed in production (read from a file), or None (a run of plain-text seeds, or
        one written before seeds could come from files)."""
        return next((s for s in self.seeds if s.production), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "best": self.best.to_json(),
            "best_seed": self.best_seed.to_json(),
            "seeds": [s.to_json() for s in self.seeds],
            "improvement": None if self.improvement is None else self.improvement.to_json(),
            "steps_completed": self.steps_completed,
            "candidates": self.candidates,
            "usage": self.usage.to_json(),
            "duration_s": self.duration_s,
            "run_dir": self.run_dir,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Summary | None:
        """None when a part every reader needs (the status, the winner) is missing."""
        best, seed = (
            PromptScores.from_json(data.get("best")),
            PromptScores.from_json(data.get("best_seed")),
        )
        status = data.get("status")
        if best is None or seed is None or status not in STATUSES:
            return None
        seeds = (PromptScores.from_json(s) for s in items(data.get("seeds")))
        return cls(
            status=status,
            reason=string(data.get("reason")),
            best=best,
            best_seed=seed,
            seeds=tuple(s for s in seeds if s is not None),
            improvement=Improvement.from_json(data.get("improvement")),
            steps_completed=integer(data.get("steps_completed")) or 0,
            candidates=integer(data.get("candidates")) or 0,
            usage=Usage.from_json(mapping(data.get("usage"))),
            name=string(data.get("name")) or "",
            duration_s=num(data.get("duration_s")),
            run_dir=string(data.get("run_dir")),
            schema_version=integer(data.get("schema_version")) or SCHEMA_VERSION,
            notes=tuple(n for n in items(data.get("notes")) if isinstance(n, str)),
        )


@dataclass(frozen=True)
class DatasetInfo:
    path: str | None
    split_files: bool
    sha256: str | None
    seed: int | None
    sizes: Mapping[str, int] = field(default_factory=dict)
    test_ids_sha256: str | None = None  # which examples the test split holds (sorted ids)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "split_files": self.split_files,
            "sha256": self.sha256,
            "seed": self.seed,
            "sizes": dict(self.sizes),
            "test_ids_sha256": self.test_ids_sha256,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DatasetInfo:
        sizes = mapping(data.get("sizes"))
        return cls(
            path=string(data.get("path")),
            split_files=data.get("split_files") is True,
            sha256=string(data.get("sha256")),
            seed=integer(data.get("seed")),
            sizes={k: v for k, v in sizes.items() if isinstance(v, int)},
            test_ids_sha256=string(data.get("test_ids_sha256")),
        )


@dataclass(frozen=True)
class Manifest:
    """manifest.json: who, what and when, and the run's status (rewritten atomically)."""

    name: str
    status: Status | str  # a status a newer opro wrote is shown as it is
    reason: str | None
    opro_version: str | None
    litellm_version: str | None
    python: str | None
    command: str | None
    seed: int | None
    dataset: DatasetInfo
    scorer: str | None
    optimizer: str | None
    planned_calls: Mapping[str, int]
    planned_cost_usd: float | None
    started_at: str | None
    ended_at: str | None = None
    resumed_at: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION
    judge: str | None = None  # the judge metric's model
    judge_prompt_version: int | None = None
    # role ("scorer", ...) -> the names of its model's deployments, for models with several
    deployments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def started(self) -> datetime | None:
        return parse_time(self.started_at)

    @property
    def ended(self) -> datetime | None:
        return parse_time(self.ended_at)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema_version": self.schema_version,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "opro_version": self.opro_version,
            "litellm_version": self.litellm_version,
            "python": self.python,
            "command": self.command,
            "seed": self.seed,
            "dataset": self.dataset.to_json(),
            "models": {"scorer": self.scorer, "optimizer": self.optimizer},
            "planned_calls": dict(self.planned_calls),
            # an estimate made before any call; None where litellm knows no price for a model
            "planned_cost_usd": self.planned_cost_usd,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }
        if self.resumed_at:
            data["resumed_at"] = list(self.resumed_at)
        if self.judge is not None:
            data["models"]["judge"] = self.judge
            data["judge_prompt_version"] = self.judge_prompt_version
        if self.deployments:
            data["deployments"] = {role: list(names) for role, names in self.deployments.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, folder: str = "") -> Manifest:
        models = mapping(data.get("models"))
        planned = mapping(data.get("planned_calls"))
        return cls(
            name=string(data.get("name")) or folder,
            status=string(data.get("status")) or "unknown",
            reason=string(data.get("reason")),
            opro_version=string(data.get("opro_version")),
            litellm_version=string(data.get("litellm_version")),
            python=string(data.get("python")),
            command=string(data.get("command")),
            seed=integer(data.get("seed")),
            dataset=DatasetInfo.from_json(mapping(data.get("dataset"))),
            scorer=string(models.get("scorer")),
            optimizer=string(models.get("optimizer")),
            judge=string(models.get("judge")),
            judge_prompt_version=integer(data.get("judge_prompt_version")),
            planned_calls={k: v for k, v in planned.items() if isinstance(v, int)},
            planned_cost_usd=num(data.get("planned_cost_usd")),
            started_at=string(data.get("started_at")),
            ended_at=string(data.get("ended_at")),
            resumed_at=tuple(t for t in items(data.get("resumed_at")) if isinstance(t, str)),
            schema_version=integer(data.get("schema_version")) or SCHEMA_VERSION,
            deployments={
                str(role): tuple(n for n in items(names) if isinstance(n, str))
                for role, names in mapping(data.get("deployments")).items()
            },
        )
