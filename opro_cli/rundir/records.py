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
    """One scorer call: a candidate on one example. A failed call (``error`` set) has no score:
    it is missing data, never a wrong answer. ``finish_reason`` "length" means the answer was
    cut at ``max_tokens``."""

    candidate_id: str
    split: SplitName
    example_id: str
    output: str | None
    score: float | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    retries: int = 0
    cached: bool = False
    error: str | None = None
    finish_reason: str | None = None
    # the judge metric's call about this answer (judged: one was made)
    judged: bool = False
    judge_reason: str | None = None
    judge_prompt_tokens: int = 0
    judge_completion_tokens: int = 0
    judge_cost_usd: float | None = None
    judge_cached: bool = False
    deployment: str | None = None  # which of the scorer's deployments answered, when it has some

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"

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
        error = string(data.get("error"))
        return cls(
            candidate_id=cid,
            split=split,
            example_id=str(example),
            output=string(data.get("output")),
            # runs written before failures were missing data stored a 0 with the error
            score=None if error is not None else num(data.get("score")),
            prompt_tokens=integer(data.get("prompt_tokens")) or 0,
            completion_tokens=integer(data.get("completion_tokens")) or 0,
            cost_usd=num(data.get("cost_usd")),
            latency_s=num(data.get("latency_s")) or 0.0,
            retries=integer(data.get("retries")) or 0,
            cached=data.get("cached") is True,
            error=error,
            finish_reason=string(data.get("finish_reason")),
            judged=data.get("judged") is True,
            judge_reason=string(data.get("judge_reason")),
            judge_prompt_tokens=integer(data.get("judge_prompt_tokens")) or 0,
            judge_completion_tokens=integer(data.get("judge_completion_tokens")) or 0,
            judge_cost_usd=num(data.get("judge_cost_usd")),
            judge_cached=data.get("judge_cached") is True,
            deployment=string(data.get("deployment")),
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
    truncated_calls: int = 0  # answers cut at max_tokens
    judge_calls: int = 0  # of ``calls``, those made to the judge metric's model

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
            "truncated_calls": self.truncated_calls,
            "judge_calls": self.judge_calls,
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
                "truncated_calls",
                "judge_calls",
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
    """A line of candidates.jsonl: a candidate and its train score.

    ``train_score`` is the mean over the ``examples`` it was scored on that were answered;
    ``errors`` of them failed (missing data), ``truncated`` hit ``max_tokens``. ``stopped`` says
    why racing stopped scoring it early (None: scored on the whole train split). ``eligible``:
    it can win (scored on the whole split, at most 5% of it failed).
    """

    id: str
    step: int
    origin: Origin
    text: str
    train_score: float | None
    examples: int | None = None
    errors: int | None = None
    truncated: int | None = None
    stopped: str | None = None
    eligible: bool | None = None

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
        eligible = data.get("eligible")
        return cls(
            id=cid,
            step=step,
            origin="seed" if data.get("origin") == "seed" else "optimizer",
            text=text,
            train_score=num(data.get("train_score")),
            examples=integer(data.get("examples")),
            errors=integer(data.get("errors")),
            truncated=integer(data.get("truncated")),
            stopped=string(data.get("stopped")),
            eligible=eligible if isinstance(eligible, bool) else None,
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


# accepted, or why not: a repeat, too long, the call failed ("unparseable" in older runs), or
# what the parser refused (core.parse: untagged in strict mode, a preamble, a copied exemplar...)
SampleStatus = Literal[
    "accepted",
    "duplicate",
    "too_long",
    "failed",
    "unparseable",
    "untagged",
    "preamble",
    "exemplar_copy",
    "score_or_label",
    "empty",
]


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
    tagged: bool | None = None  # the answer had <INS> tags
    finish_reason: str | None = None

    @property
    def failed(self) -> bool:
        return self.output is None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"

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
            tagged=data.get("tagged") if isinstance(data.get("tagged"), bool) else None,
            finish_reason=string(data.get("finish_reason")),
        )


@dataclass(frozen=True)
class MetaPromptRecord:
    """A line of meta_prompts.jsonl: what the optimizer was asked in a step and what it said."""

    step: int
    exemplar_ids: tuple[str, ...]
    meta_prompt: str
    samples: tuple[Sample, ...]
    mistake_ids: tuple[str, ...] = ()  # train examples the best got wrong, shown (show_errors)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "exemplar_ids": list(self.exemplar_ids),
            "mistake_ids": list(self.mistake_ids),
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
            mistake_ids=tuple(str(i) for i in items(data.get("mistake_ids"))),
            meta_prompt=string(data.get("meta_prompt")) or "",
            samples=tuple(
                s for s in (Sample.from_json(mapping(x)) for x in items(samples)) if s is not None
            ),
        )
