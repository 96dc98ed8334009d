"""The report as GitHub-flavoured Markdown: fits a pull-request comment or a step summary."""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet

from opro_cli import formatting as fmt
from opro_cli.report import text as tables
from opro_cli.report.compare import (
    EXAMPLES_SHOWN,
    DiffOp,
    Report,
    RunView,
    display_ops,
    word_diff,
)
from opro_cli.rundir import SPLITS, Improvement, PromptScores, Summary

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~$])")
_BLOCK_START = re.compile(r"^([#+\->=]|\d+[.)])")


def escape(text: str) -> str:
    """Inline text that Markdown shows as written: special characters escaped, `&` as an entity
    (so `&lt;` stays four characters), one line."""
    flat = " ".join(text.split())
    return _SPECIAL.sub(r"\\\1", flat.replace("&", "&amp;"))


def line_start_safe(text: str) -> str:
    """Escape what would turn a line into a heading, list or quote (``# x``, ``- x``, ``1. x``)."""
    return _BLOCK_START.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], text, count=1)


def cell(text: str) -> str:
    return escape(text) if text else " "


def table(
    headers: list[str], rows: list[list[str]], right: AbstractSet[str] = frozenset()
) -> list[str]:
    lines = [
        "| " + " | ".join(escape(h) for h in headers) + " |",
        "|" + "|".join("---:" if h in right else "---" for h in headers) + "|",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(report: Report) -> str:
    lines = render_details(report) if report.detailed else render_listing(report)
    return "\n".join(lines).rstrip() + "\n"


def render_listing(report: Report) -> list[str]:
    lines = [f"### opro runs in {escape(str(report.runs_dir))}", ""]
    if not report.rows:
        return [*lines, f"_{report.no_runs}_"]
    lines += [f"**{escape(line)}**" for line in tables.lead_results(report.rows, listing=True)]
    lines += [""] if lines[-1] else []
    rows = [tables.listing_cells(r) for r in report.rows]
    return [*lines, *table(tables.LISTING_HEADERS, rows, tables.NUMERIC)]


def _comparison(views: tuple[RunView, ...]) -> list[str]:
    headers = ["", *(v.row.folder for v in views)]
    rows = [[label, *cells] for label, cells in tables.comparison_rows(views)]
    return table(headers, rows, set(headers[1:]))


def _curves(views: tuple[RunView, ...]) -> list[str]:
    headers, rows = tables.curve_table(views)
    return table(headers, rows, set(headers))


def diff_markdown(view: RunView) -> str:
    return markdown_diff(view.diff or ())


def markdown_diff(ops: tuple[DiffOp, ...]) -> str:
    """A word diff as one Markdown line: ~~removed~~ **added**."""
    out: list[str] = []
    for op, lead, words, trail in display_ops(ops):
        shown = escape(words)
        if words and op == "delete":
            shown = f"~~{shown}~~"
        elif words and op == "insert":
            shown = f"**{shown}**"
        out.append(("" if not out else " " if lead else "") + shown + (" " if trail else ""))
    return line_start_safe("".join(out).strip())


def render_run(view: RunView) -> list[str]:
    row, detail = view.row, view.detail
    lines = [f"#### {escape(row.folder)}", ""]
    if not row.has_summary:
        lines += [
            f"_Status {escape(row.status)}: no summary yet; the best so far is on train only._",
            "",
        ]
    if view.top:
        rows = [
            [
                *r.cells[:2],
                r.cells[2] + (f" ({view.best_label})" if r.winner else ""),
                *r.cells[3:],
                fmt.one_line(r.text, 120),
            ]
            for r in tables.top_rows(view)
        ]
        lines += ["Top candidates (by train score):", ""]
        lines += [*table(tables.TOP_HEADERS, rows, tables.TOP_NUMERIC), ""]
    if detail.best is not None and detail.seed is not None:
        lines += [
            f"{view.best_label.capitalize()} against the seed (~~removed~~ **added**):",
            "",
            "> " + (diff_markdown(view) or "_(both empty)_"),
            "",
            "<details><summary>full prompts</summary>",
            "",
            "Seed:",
            "",
            *fmt.fence(detail.seed.text, "text"),
            "",
            f"{view.best_label.capitalize()}:",
            "",
            *fmt.fence(detail.best.text, "text"),
            "",
            "</details>",
            "",
        ]
    changes = view.changes
    if changes is not None:
        lines += [
            f"Test examples (n={changes.n}): the winner **fixed {len(changes.fixed)}**, "
            f"**broke {len(changes.broken)}**, {changes.unchanged} unchanged.",
            "",
        ]
        for label, items in tables.change_tables(view):
            rows = [
                [
                    item.example_id,
                    fmt.one_line(item.seed_output or tables.NO_ANSWER, 60),
                    fmt.one_line(item.best_output or tables.NO_ANSWER, 60),
                ]
                for item in items
            ]
            lines += [f"{label.capitalize()} (first {EXAMPLES_SHOWN}):", ""]
            lines += [*table(tables.CHANGE_HEADERS, rows), ""]
    return lines


def render_details(report: Report) -> list[str]:
    views = report.views
    lead = tables.lead_results([v.row for v in views], listing=False)
    lines = ["### opro report", "", *(f"**{escape(line)}**  " for line in lead)]
    lines += ["", *_comparison(views), ""] if lead else [*_comparison(views), ""]
    if any(v.curve for v in views):
        lines += ["Train score per step (best so far / mean of the step):", ""]
        lines += [*_curves(views), ""]
    for view in views:
        lines += render_run(view)
    return lines


def step_summary_markdown(summary: Summary, gate: str | None, gates_set: bool) -> str:
    """A finished run as a GitHub job summary: scores, the improvement with its interval, the
    gates' verdict, what it cost, and the winning prompt."""
    best, seed = summary.best, summary.best_seed
    lines = [
        f"### opro: {summary.name} ({summary.status})",
        "",
        "| prompt | train | val | test |",
        "|---|---:|---:|---:|",
        f"| best | {fmt.pct(best.train)} | {fmt.pct(best.val)} | {fmt.pct(best.test)} |",
        f"| seed | {fmt.pct(seed.train)} | {fmt.pct(seed.val)} | {fmt.pct(seed.test)} |",
        "",
    ]
    imp = summary.improvement
    if imp is not None:
        lines += [f"**{escape(fmt.result_line(best.test, seed.test, imp))}**", ""]
    lines += [f"> {escape(note)}" for note in summary.notes]
    if summary.notes:
        lines.append("")
    if gate is not None:
        lines += [f"**Gate not met:** {gate}", ""]
    elif gates_set:
        lines += ["Gates met.", ""]
    u = summary.usage
    lines += [
        f"{u.calls:,} model calls ({u.cache_hits:,} answered from the cache, "
        f"{u.failed_calls:,} failed), {u.tokens:,} tokens, cost {fmt.usd(u.cost_usd)}, "
        f"{summary.duration_s or 0:.0f} s; run directory `{summary.run_dir}`",
        "",
    ]
    lines += ["Best prompt:", "", *fmt.fence(best.text), ""]
    return "\n".join(lines) + "\n"


def pull_request_markdown(
    summary: Summary,
    seed: PromptScores,
    improvement: Improvement,
    *,
    target: str,
    scorer: str | None,
    optimizer: str | None,
) -> str:
    """The body of a pull request that puts the winner into ``target``: the test result with
    its interval and verdict, the scores, the word diff, the full prompts, calls and cost."""
    best = summary.best
    where = fmt.one_line(target, 200)
    models = f"scorer {scorer or fmt.UNKNOWN}, optimizer {optimizer or fmt.UNKNOWN}"
    rows = [
        [f"new prompt (the winner, step {best.step})", *(fmt.pct(best.score(s)) for s in SPLITS)],
        [f"in production ({where})", *(fmt.pct(seed.score(s)) for s in SPLITS)],
    ]
    u = summary.usage
    lines = [
        f"### opro: a better prompt for {escape(where)}",
        "",
        "**" + escape(fmt.result_line(best.test, seed.test, improvement, seed="production")) + "**",
        "",
        f"Run {escape(summary.name)} ({escape(models)}) started from the prompt in "
        f"{escape(where)} and picked this winner on validation; the test split was never "
        "used to choose it.",
        "",
        *table(["prompt", *SPLITS], rows, set(SPLITS)),
        "",
        f"Method: {escape(improvement.method or fmt.UNKNOWN)}.",
        "",
        "Changes (~~removed~~ **added**):",
        "",
        "> " + (markdown_diff(word_diff(seed.text, best.text)) or "_(both empty)_"),
        "",
        "<details><summary>full prompts</summary>",
        "",
        "In production:",
        "",
        *fmt.fence(seed.text, "text"),
        "",
        "New:",
        "",
        *fmt.fence(best.text, "text"),
        "",
        "</details>",
        "",
        f"{u.calls:,} model calls ({u.cache_hits:,} answered from the cache, "
        f"{u.failed_calls:,} failed), {u.tokens:,} tokens, cost {fmt.usd(u.cost_usd)}, "
        f"{fmt.duration(summary.duration_s)}; run directory `{summary.run_dir}`",
    ]
    return "\n".join(lines) + "\n"
