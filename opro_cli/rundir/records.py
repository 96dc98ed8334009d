"""The records of the JSONL files: one class per kind of line, with its JSON form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from opro_cli.rundir.fields import integer, items, mapping, num, string
from opro_cli.rundir.layout import SPLITS, Origin, SplitName


@dataclass(frozen=True)
class Candidate:
    """An instruction; ``id`` is the sha256 of its text (first 16 hex digits)."""

    id: str
    text: str
    step: int
    origin: Origin


@dataclass(frozen=True)
class Evaluation:
    """One scorer call: a candidate on one example. ``error`` is set when the call failed."""

    candidate_id: str
    split: SplitName
    example_id: str
    output: str | None
    score: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    retries: int = 0
    cached: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"latency_s": round(self.latency_s, 4)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evaluation | None:
        cid, split, example = (
            string(data.get("candidate_id")),
            data.get("split"),
            data.get("example_id"),
        )
        if cid is None or split not in SPLITS or example is None:
            return None
        return cls(
            candidate_id=cid,
            split=split,
            example_id=str(example),
            output=string(data.get("output")),
            score=num(data.get("score")) or 0.0,
            prompt_tokens=integer(data.get("prompt_tokens")) or 0,
            completion_tokens=integer(data.get("completion_tokens")) or 0,
            cost_usd=num(data.get("cost_usd")),
            latency_s=num(data.get("latency_s")) or 0.0,
            retries=integer(data.get("retries")) or 0,
            cached=data.get("cached") is True,
            error=string(data.get("error")),
        )

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.candidate_id, self.split, self.example_id)


@dataclass(frozen=True)
class Usage:
    """Running totals of model use. ``unknown_cost_calls`` counts calls without a known price."""

    calls: int = 0  # calls that reached a model (cache hits are not calls)
    cache_hits: int = 0
    failed_calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    known_cost_usd: float = 0.0
    unknown_cost_calls: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost_usd(self) -> float | None:
        """Total cost, or None when any call's price is unknown."""
        return None if self.unknown_cost_calls else self.known_cost_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "failed_calls": self.failed_calls,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "known_cost_usd": self.known_cost_usd,
            "unknown_cost_calls": self.unknown_cost_calls,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Usage:
        counts = {
            name: integer(data.get(name)) or 0
            for name in (
                "calls",
                "cache_hits",
                "failed_calls",
                "retries",
                "prompt_tokens",
                "completion_tokens",
                "unknown_cost_calls",
            )
        }
        known = num(data.get("known_cost_usd"))
        if known is None:  # written before known_cost_usd existed
            known = num(data.get("cost_usd")) or 0.0
        if "cost_usd" in data and data["cost_usd"] is None and not counts["unknown_cost_calls"]:
            counts["unknown_cost_calls"] = 1  # the file says the cost is unknown: keep it so
        return cls(**counts, known_cost_usd=known)


@dataclass(frozen=True)
class CandidateRecord:
    """A line of candidates.jsonl: a candidate and its train score."""

    id: str
    step: int
    origin: Origin
    text: str
    train_score: float | None
    examples: int | None = None
    errors: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CandidateRecord | None:
        cid, text, step = (
            string(data.get("id")),
            string(data.get("text")),
            integer(data.get("step")),
        )
        if cid is None or text is None or step is None:
            return None
        return cls(
            id=cid,
            step=step,
            origin="seed" if data.get("origin") == "seed" else "optimizer",
            text=text,
            train_score=num(data.get("train_score")),
            examples=integer(data.get("examples")),
            errors=integer(data.get("errors")),
        )


@dataclass(frozen=True)
class StepRecord:
    """A line of steps.jsonl. ``calls`` .. ``cost_usd`` are totals for the run so far."""

    step: int
    best_score: float | None
    best_id: str | None
    mean_score: float | None  # None: the step added no candidate
    proposed: int | None
    new_candidates: int | None
    calls: int | None = None
    failed_calls: int | None = None
    retries: int | None = None
    tokens: int | None = None
    cost_usd: float | None = None
    elapsed_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.elapsed_s is not None:
            data["elapsed_s"] = round(self.elapsed_s, 3)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepRecord | None:
        number = integer(data.get("step"))
        if number is None:
            return None
        new = integer(data.get("new_candidates"))
        return cls(
            step=number,
            best_score=num(data.get("best_score")),
            best_id=string(data.get("best_id")),
            # runs written before mean_score could be null put 0.0 in steps without candidates
            mean_score=None if new == 0 else num(data.get("mean_score")),
            proposed=integer(data.get("proposed")),
            new_candidates=new,
            calls=integer(data.get("calls")),
            failed_calls=integer(data.get("failed_calls")),
            retries=integer(data.get("retries")),
            tokens=integer(data.get("tokens")),
            cost_usd=num(data.get("cost_usd")),
            elapsed_s=num(data.get("elapsed_s")),
        )


SampleStatus = Literal["accepted", "duplicate", "too_long", "unparseable"]


@dataclass(frozen=True)
class Sample:
    """One optimizer answer. ``output`` is None when the call failed (``error`` says why)."""

    index: int
    output: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    retries: int = 0
    cached: bool = False
    error: str | None = None
    instruction: str | None = None
    status: SampleStatus | None = None

    @property
    def failed(self) -> bool:
        return self.output is None

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"failed": self.failed}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sample | None:
        index = integer(data.get("index"))
        if index is None:
            return None
        status = data.get("status")
        return cls(
            index=index,
            output=string(data.get("output")),
            prompt_tokens=integer(data.get("prompt_tokens")) or 0,
            completion_tokens=integer(data.get("completion_tokens")) or 0,
            cost_usd=num(data.get("cost_usd")),
            retries=integer(data.get("retries")) or 0,
            cached=data.get("cached") is True,
            error=string(data.get("error")),
            instruction=string(data.get("instruction")),
            status=status if status in get_args(SampleStatus) else None,
        )


@dataclass(frozen=True)
class MetaPromptRecord:
    """A line of meta_prompts.jsonl: what the optimizer was asked in a step and what it said."""

    step: int
    exemplar_ids: tuple[str, ...]
    meta_prompt: str
    samples: tuple[Sample, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "exemplar_ids": list(self.exemplar_ids),
            "meta_prompt": self.meta_prompt,
            "samples": [s.to_json() for s in self.samples],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetaPromptRecord | None:
        step = integer(data.get("step"))
        if step is None:
            return None
        samples = data.get("samples")
        ids = data.get("exemplar_ids")
        return cls(
            step=step,
            exemplar_ids=tuple(str(i) for i in ids) if isinstance(ids, list) else (),
            meta_prompt=string(data.get("meta_prompt")) or "",
            samples=tuple(
                s for s in (Sample.from_json(mapping(x)) for x in items(samples)) if s is not None
            ),
        )
