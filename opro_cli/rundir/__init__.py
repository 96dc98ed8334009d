"""The run directory's format: file names, schema version, record types, and their readers.

    runs/<UTC timestamp>-<name>/
        config.yaml         the resolved spec
        manifest.json       status, versions, seed, dataset hash, models, plan, times
        candidates.jsonl    one ``CandidateRecord`` per candidate scored on train
        evaluations.jsonl   one ``Evaluation`` per model call of the scorer
        steps.jsonl         one ``StepRecord`` per step: best so far, mean, calls, tokens, cost
        meta_prompts.jsonl  one ``MetaPromptRecord`` per step: the meta-prompt and the answers
        best_prompt.txt     the winner (written at the end)
        summary.json        the ``Summary`` (written at the end)

This module is the one home of that format: the writer (``store``), resume (``app``), ``opro
export`` and ``opro report`` all go through it. It needs only the standard library, so ``opro
report`` stays fast to start.

Reading is tolerant where a damaged file can be worked around and strict where it cannot:
``read_jsonl`` skips a corrupt line with a warning naming ``file:line`` (a crash can cut the last
line short); ``read_manifest`` and ``read_summary`` raise ``RunDirError`` with the file, what is
wrong and the fix, which every command shows the same way (exit 2).
"""

from __future__ import annotations

from opro_cli.rundir.fields import parse_time
from opro_cli.rundir.layout import (
    BEST_PROMPT,
    CANDIDATES,
    CONFIG,
    EVALUATIONS,
    FINISHED,
    JSONL_FILES,
    LOCK,
    MANIFEST,
    META_PROMPTS,
    REPLAYED_FILES,
    SCHEMA_VERSION,
    SPLITS,
    STATUSES,
    STEPS,
    SUMMARY,
    Origin,
    SplitName,
    Status,
)
from opro_cli.rundir.read import (
    dumps,
    is_run_dir,
    read_candidates,
    read_config_text,
    read_evaluations,
    read_jsonl,
    read_manifest,
    read_meta_prompts,
    read_steps,
    read_summary,
    to_line,
)
from opro_cli.rundir.records import (
    Candidate,
    CandidateRecord,
    Evaluation,
    MetaPromptRecord,
    Sample,
    SampleStatus,
    StepRecord,
    Usage,
)
from opro_cli.rundir.summary import DatasetInfo, Improvement, Manifest, PromptScores, Summary

__all__ = [
    "BEST_PROMPT",
    "CANDIDATES",
    "CONFIG",
    "EVALUATIONS",
    "FINISHED",
    "JSONL_FILES",
    "LOCK",
    "MANIFEST",
    "META_PROMPTS",
    "REPLAYED_FILES",
    "SCHEMA_VERSION",
    "SPLITS",
    "STATUSES",
    "STEPS",
    "SUMMARY",
    "Candidate",
    "CandidateRecord",
    "DatasetInfo",
    "Evaluation",
    "Improvement",
    "Manifest",
    "MetaPromptRecord",
    "Origin",
    "PromptScores",
    "Sample",
    "SampleStatus",
    "SplitName",
    "Status",
    "StepRecord",
    "Summary",
    "Usage",
    "dumps",
    "is_run_dir",
    "parse_time",
    "read_candidates",
    "read_config_text",
    "read_evaluations",
    "read_jsonl",
    "read_manifest",
    "read_meta_prompts",
    "read_steps",
    "read_summary",
    "to_line",
]
