"""Names of the run directory's files, its schema version, and the closed sets of values."""

from __future__ import annotations

from typing import Literal, get_args

SCHEMA_VERSION = 1

CONFIG = "config.yaml"
MANIFEST = "manifest.json"
CANDIDATES = "candidates.jsonl"
EVALUATIONS = "evaluations.jsonl"
STEPS = "steps.jsonl"
META_PROMPTS = "meta_prompts.jsonl"
BEST_PROMPT = "best_prompt.txt"
SUMMARY = "summary.json"
LOCK = ".lock"
JSONL_FILES = (CANDIDATES, EVALUATIONS, STEPS, META_PROMPTS)
# Derived from the evaluations and written again when a run is resumed
REPLAYED_FILES = (CANDIDATES, STEPS, META_PROMPTS)

Status = Literal["running", "completed", "budget_exhausted", "failed", "interrupted"]
STATUSES: tuple[Status, ...] = get_args(Status)
FINISHED: tuple[Status, ...] = ("completed", "budget_exhausted")
SplitName = Literal["train", "val", "test"]
SPLITS: tuple[SplitName, ...] = get_args(SplitName)
Origin = Literal["seed", "optimizer"]
