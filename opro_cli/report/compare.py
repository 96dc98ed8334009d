"""Pure computations over loaded runs: step curves, top candidates, word diff, test changes."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from opro_cli.report.reader import CandidateRow, RunDetail, RunRow
from opro_cli.rundir import Evaluation

EXAMPLES_SHOWN = 3


@dataclass(frozen=True)
class CurvePoint:
    """Best train score so far and the mean train score of the step's new candidates."""

    step: int
    best: float | None
    mean: float | None


@dataclass(frozen=True)
class DiffOp:
    """A run of words: ``equal``, ``delete`` (only in the seed) or ``insert`` (only in the winner).
    ``text`` keeps the words' original spacing, so joining the equal and insert texts gives the
    winner back, and the equal and delete texts give the seed (with the winner's spacing)."""

    op: str
    text: str


@dataclass(frozen=True)
class ExampleChange:
    example_id: str
    seed_output: str | None
    best_output: str | None
    seed_score: float
    best_score: float


@dataclass(frozen=True)
class Changes:
    """The winner against the seed, example by example, on the test examples both answered."""

    n: int
    fixed: tuple[ExampleChange, ...]
    broken: tuple[ExampleChange, ...]
    unchanged: int


def step_curve(detail: RunDetail) -> tuple[CurvePoint, ...]:
    """From ``steps.jsonl``; when it is missing or empty, rebuilt from the candidates."""
    if detail.steps:
        return tuple(CurvePoint(s.step, s.best_score, s.mean_score) for s in detail.steps)
    by_step: dict[int, list[float]] = {}
    for c in detail.candidates:
        if c.scores.train is not None:
            by_step.setdefault(c.step, []).append(c.scores.train)
    points, best = [], None
    for step in sorted(by_step):
        scores = by_step[step]
        best = max([*scores, best] if best is not None else scores)
        points.append(CurvePoint(step, best, sum(scores) / len(scores)))
    return tuple(points)


def top_candidates(detail: RunDetail, n: int) -> list[CandidateRow]:
    """The ``n`` best candidates on train (ties: the earlier first), the winner always included."""
    ranked = sorted(detail.candidates, key=lambda c: (-(c.scores.train or 0.0), c.step))
    top = ranked[:n]
    best_id = detail.best.id if detail.best else None
    if best_id is not None and n > 0 and all(c.id != best_id for c in top):
        winner = next((c for c in ranked if c.id == best_id), None)
        if winner is not None:
            top = [*top[: n - 1], winner]
    return top


def _tokens(text: str) -> list[str]:
    """Words with their surrounding whitespace; the first token keeps leading whitespace."""
    tokens = []
    position = 0
    for match in re.finditer(r"\S+\s*", text):
        tokens.append(text[position : match.end()])
        position = match.end()
    if position < len(text):
        tokens.append(text[position:])
    return tokens


def word_diff(seed: str, best: str) -> tuple[DiffOp, ...]:
    """A word-level diff from the seed prompt to the winner (difflib on whitespace-split words)."""
    old, new = _tokens(seed), _tokens(best)
    # autojunk must be off from the start (setting it afterwards does nothing): from 200 words
    # on, it would ignore frequent words and turn a one-word change into a rewrite.
    matcher = difflib.SequenceMatcher(
        a=[t.strip() for t in old], b=[t.strip() for t in new], autojunk=False
    )
    ops: list[DiffOp] = []

    def add(op: str, text: str) -> None:
        if not text:
            return
        if ops and ops[-1].op == op:
            ops[-1] = DiffOp(op, ops[-1].text + text)
        else:
            ops.append(DiffOp(op, text))

    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", "".join(new[b0:b1]))
        else:
            add("delete", "".join(old[a0:a1]))
            add("insert", "".join(new[b0:b1]))
    return tuple(ops)


def display_ops(ops: tuple[DiffOp, ...]) -> list[tuple[str, str, str, str]]:
    """``(op, leading space, words, trailing space)`` for styling only the words; a deletion
    that runs straight into an insertion gets a space, so ``brief.`` and ``brief!`` stay apart."""
    shown = []
    for index, diff in enumerate(ops):
        words = diff.text.strip()
        lead = diff.text[: len(diff.text) - len(diff.text.lstrip())]
        trail = diff.text[len(diff.text.rstrip()) :] if words else ""
        if diff.op == "delete" and not trail and index + 1 < len(ops):
            trail = " "
        shown.append((diff.op, lead, words, trail))
    return shown


def changes_on_test(detail: RunDetail) -> Changes | None:
    """How many test examples the winner fixed (scores higher than the seed) and broke (lower).

    None when the run has no test answers for both the winner and the seed."""
    if detail.best is None or detail.seed is None or detail.best.id is None:
        return None
    if detail.seed.id is None:
        return None
    best = _by_example(detail.test_evaluations, detail.best.id)
    seed = _by_example(detail.test_evaluations, detail.seed.id)
    common = [e for e in best if e in seed]
    if not common:
        return None
    fixed, broken = [], []
    for example in common:
        b, s = best[example], seed[example]
        change = ExampleChange(example, s.output, b.output, s.score or 0.0, b.score or 0.0)
        if change.best_score > change.seed_score:
            fixed.append(change)
        elif change.best_score < change.seed_score:
            broken.append(change)
    return Changes(
        n=len(common),
        fixed=tuple(fixed),
        broken=tuple(broken),
        unchanged=len(common) - len(fixed) - len(broken),
    )


def _by_example(evaluations: tuple[Evaluation, ...], candidate_id: str) -> dict[str, Evaluation]:
    return {e.example_id: e for e in evaluations if e.candidate_id == candidate_id}


@dataclass(frozen=True)
class RunView:
    """One run's details with everything the renderers show computed once."""

    detail: RunDetail
    curve: tuple[CurvePoint, ...]
    top: tuple[CandidateRow, ...]
    diff: tuple[DiffOp, ...] | None
    changes: Changes | None

    @property
    def row(self) -> RunRow:
        return self.detail.row

    @property
    def best_label(self) -> str:
        """``winner`` once the run picked one; before that, the best train candidate so far."""
        return "winner" if self.row.has_summary else "best so far"


@dataclass(frozen=True)
class Report:
    """What every format renders. ``detailed``: RUN arguments were given (details for each);
    otherwise a listing, whose ``views`` are filled only for the HTML charts. ``filtered``: the
    listing was filtered (--name, --since, --status, --last), so "no runs" says so."""

    runs_dir: Path
    rows: tuple[RunRow, ...]
    views: tuple[RunView, ...]
    detailed: bool
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    filtered: bool = False

    @property
    def no_runs(self) -> str:
        """What an empty listing says."""
        return "No runs match the filters." if self.filtered else "No runs."


def build_view(detail: RunDetail, top: int) -> RunView:
    diff = None
    if detail.best is not None and detail.seed is not None:
        diff = word_diff(detail.seed.text, detail.best.text)
    return RunView(
        detail=detail,
        curve=step_curve(detail),
        top=tuple(top_candidates(detail, top)),
        diff=diff,
        changes=changes_on_test(detail) if detail.evaluations_read else None,
    )
