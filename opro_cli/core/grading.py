"""The judge metric's call: a model grades one answer (the messages and the parsing of its
verdict are in ``core.judge``)."""

from __future__ import annotations

from dataclasses import replace

from opro_cli.core.failures import FailureStreak
from opro_cli.core.judge import JudgeConfig, UnreadableVerdict, judge_messages, parse_verdict
from opro_cli.data import Example
from opro_cli.errors import ModelError, SystemicModelError
from opro_cli.models.base import ModelClient
from opro_cli.rundir import Evaluation


async def grade(
    client: ModelClient,
    judge: JudgeConfig,
    evaluation: Evaluation,
    example: Example,
    failures: FailureStreak,
) -> Evaluation:
    """The evaluation with the judge's score and reason, or an error: a failed call or an
    unreadable verdict is missing data, never a 0."""
    messages = judge_messages(judge, example.input, example.target, evaluation.output or "")
    try:
        judged = await client.complete(messages, judge.params)
    except SystemicModelError:
        raise
    except ModelError as exc:
        failures.failed(exc)
        return replace(evaluation, judged=True, error=f"judge: {type(exc).__name__}: {exc}")
    failures.succeeded()
    evaluation = replace(
        evaluation,
        judged=True,
        judge_prompt_tokens=judged.prompt_tokens,
        judge_completion_tokens=judged.completion_tokens,
        judge_cost_usd=judged.cost_usd,
        judge_cached=judged.cached,
    )
    try:
        verdict = parse_verdict(judged.text, judge.scale)
    except UnreadableVerdict as exc:
        return replace(evaluation, error=f"judge: {exc}")
    return replace(evaluation, score=verdict.score, judge_reason=verdict.reason)
