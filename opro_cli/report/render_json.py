"""The report as one stable JSON document (``schema_version`` 1, shape in docs/report-json.md).

Scores are fractions 0-1 as in the run files; unknown values are ``null`` (an unknown cost is
``null``, never 0). Keys are always present, so consumers can index without guessing.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from opro_cli.report.compare import Report, RunView
from opro_cli.report.reader import RunRow, Scores
from opro_cli.rundir import PromptScores, StepRecord

SCHEMA_VERSION = 1
KIND = "opro.report"


def _scores(scores: Scores) -> dict[str, float | None]:
    return {"train": scores.train, "val": scores.val, "test": scores.test}


def _prompt(prompt: PromptScores | None) -> dict[str, Any] | None:
    if prompt is None:
        return None
    return {"id": prompt.id, "text": prompt.text, **_scores(Scores.of(prompt))}


def _step(step: StepRecord) -> dict[str, Any]:
    keys = ("step", "best_score", "best_id", "mean_score", "proposed", "new_candidates")
    totals = ("calls", "tokens", "cost_usd", "elapsed_s")
    return {key: getattr(step, key) for key in (*keys, *totals)}


def row_json(row: RunRow) -> dict[str, Any]:
    return {
        "run": row.folder,
        "path": str(row.path),
        "name": row.name,
        "status": row.status,
        "reason": row.reason,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "scorer": row.scorer,
        "optimizer": row.optimizer,
        "steps": row.steps,
        "best": _scores(row.best),
        "seed": _scores(row.seed),
        "improvement": asdict(row.improvement) if row.improvement else None,
        "calls": row.calls,
        "tokens": row.tokens,
        "cost_usd": row.cost_usd,
        "duration_s": row.duration_s,
        "has_summary": row.has_summary,
    }


def view_json(view: RunView) -> dict[str, Any]:
    detail = view.detail
    changes = view.changes
    return {
        "run": view.row.folder,
        "best_prompt": _prompt(detail.best),
        "seed_prompt": _prompt(detail.seed),
        "curve": [{"step": p.step, "best": p.best, "mean": p.mean} for p in view.curve],
        "steps": [_step(s) for s in detail.steps],
        "candidates": [
            {
                "id": c.id,
                "step": c.step,
                "origin": c.origin,
                "text": c.text,
                **_scores(c.scores),
                "examples": c.examples,
                "errors": c.errors,
            }
            for c in detail.candidates
        ],
        "top": [c.id for c in view.top],
        "diff": None if view.diff is None else [{"op": d.op, "text": d.text} for d in view.diff],
        "test_changes": None
        if changes is None
        else {
            "n": changes.n,
            "fixed": [asdict(c) for c in changes.fixed],
            "broken": [asdict(c) for c in changes.broken],
            "unchanged": changes.unchanged,
        },
    }


def report_json(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "runs_dir": str(report.runs_dir),
        "detailed": report.detailed,
        "runs": [row_json(r) for r in report.rows],
        "details": [view_json(v) for v in report.views] if report.detailed else [],
        "warnings": list(report.warnings),
        "notes": list(report.notes),
    }


def render_json(report: Report) -> str:
    return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"
