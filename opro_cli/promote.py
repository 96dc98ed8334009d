"""``opro promote``: put a run's winner into the prompt file the product reads, if it earned it.

The run must have started from that file (``seed_prompts: [{file: ...}]``): the seed whose text
is the file's current content is the prompt in production. The winner replaces it only when it
beats that seed significantly on the test split (``gates.significance_failure``: the run's
verdict, with no test example left unanswered), and passes ``--fail-under`` /
``--min-improvement`` when given. Otherwise nothing is written and ``GateError`` (exit 1) says
why in one line.

When the production seed is the run's best seed, the run's own verdict (``summary.json``,
``improvement``) is used. When another seed was better on validation, the winner is compared
with the production seed here, on the run's test answers, the same way (``compare_paired``).
"""

from __future__ import annotations

import os
import random
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from opro_cli import rundir
from opro_cli.core.calls import derive_seed
from opro_cli.core.outcome import improvement
from opro_cli.core.significance import compare_paired
from opro_cli.errors import GateError, RunDirError
from opro_cli.gates import Gates, gate_failure, significance_failure
from opro_cli.rundir import Improvement, Manifest, PromptScores, Summary
from opro_cli.store import atomic_write

DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class Promotion:
    """What ``opro promote`` decided: the winner replaces ``seed`` (the prompt in ``target``);
    ``improvement`` is the winner against that seed on test."""

    run_dir: Path
    target: Path
    manifest: Manifest
    summary: Summary
    seed: PromptScores
    improvement: Improvement

    @property
    def winner(self) -> PromptScores:
        return self.summary.best


NO_GATES = Gates()


def check_promotion(run_dir: Path, target: Path, gates: Gates = NO_GATES) -> Promotion:
    """Everything ``promote`` checks, without writing: ``GateError`` (exit 1) when the winner
    may not replace the prompt in ``target``, ``RunDirError`` (exit 2) when a file is missing."""
    manifest = rundir.read_manifest(run_dir)
    summary = rundir.read_summary(run_dir)
    if summary is None:
        raise GateError(
            f"{run_dir}: the run has no result (status {manifest.status}) -> finish it with "
            f"opro resume {run_dir}, then promote"
        )
    current = read_prompt(target)
    seed = _seed_of(summary, current)
    if seed is None:
        raise GateError(
            f"{target}: its prompt is not a seed of this run (was the file changed after the "
            f"run?) -> run again with seed_prompts: [{{file: {target}}}]"
        )
    if summary.best.id == seed.id or summary.best.text == seed.text:
        raise GateError(f"the winner is the prompt already in {target}: nothing to promote")
    improvement = _improvement(run_dir, manifest, summary, seed)
    against = f"the prompt in {target}"
    why = significance_failure(improvement, against)
    if why is None and improvement is not None:
        why = gate_failure(replace(summary, improvement=improvement), gates, against)
        if why is None:
            return Promotion(run_dir, target, manifest, summary, seed, improvement)
    raise GateError(f"not promoted: {why}")


def promote(run_dir: Path, target: Path, gates: Gates = NO_GATES) -> Promotion:
    """Check, then write the winner into ``target`` (atomically, keeping the file's mode)."""
    promotion = check_promotion(run_dir, target, gates)
    write_prompt(target, promotion.winner.text)
    return promotion


def read_prompt(target: Path) -> str:
    """The prompt a file holds, stripped as a file seed is read (``spec.seeds``)."""
    try:
        return target.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise RunDirError(
            f"{target}: file not found",
            hint="--to names the prompt file the run's seed was read from",
        ) from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise RunDirError(f"{target}: not a UTF-8 text file", hint="give the prompt file") from None
    except OSError as exc:
        raise RunDirError(f"{target}: cannot read ({exc.strerror})") from None


def write_prompt(target: Path, text: str) -> None:
    mode = stat.S_IMODE(target.stat().st_mode)
    try:
        atomic_write(target, text.strip() + "\n")
        os.chmod(target, mode)
    except OSError as exc:
        raise RunDirError(f"{target}: cannot write ({exc.strerror})") from None


def _seed_of(summary: Summary, text: str) -> PromptScores | None:
    """The seed whose text is ``text``; the production one first when several match."""
    matches = [s for s in summary.seeds if s.text.strip() == text]
    matches.sort(key=lambda s: not s.production)
    return matches[0] if matches else None


def _improvement(
    run_dir: Path, manifest: Manifest, summary: Summary, seed: PromptScores
) -> Improvement | None:
    """The winner against ``seed`` on test: the run's own verdict when ``seed`` is its best
    seed, else computed from the test answers (a failed call is a missing answer)."""
    if seed.id == summary.best_seed.id:
        return summary.improvement
    if summary.improvement is None or seed.id is None or summary.best.id is None:
        return None
    evaluations, _ = rundir.read_evaluations(run_dir)
    latest = {e.key: e for e in evaluations if e.split == "test"}
    scores: dict[str, dict[str, float | None]] = {}
    for e in latest.values():
        scores.setdefault(e.candidate_id, {})[e.example_id] = None if e.error else e.score
    winner, other = scores.get(summary.best.id, {}), scores.get(seed.id, {})
    examples = sorted(set(winner) | set(other))
    if not examples:
        return None
    level = summary.improvement.ci_level
    comparison = compare_paired(
        [winner.get(x) for x in examples],
        [other.get(x) for x in examples],
        level=level if level is not None else DEFAULT_LEVEL,
        rng=random.Random(derive_seed(manifest.seed, "promote", seed.id)),
    )
    return improvement(comparison)
