"""The report as GitHub-flavoured Markdown: fits a pull-request comment or a step summary."""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet

from opro_cli import formatting as fmt
from opro_cli.report.compare import EXAMPLES_SHOWN, Report, RunView, display_ops
from opro_cli.report.text import LISTING_HEADERS, NUMERIC, listing_cells
from opro_cli.rundir import Summary

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
    rows = [listing_cells(r) for r in report.rows]
    return [*lines, *table(LISTING_HEADERS, rows, NUMERIC)]


def _comparison(views: tuple[RunView, ...]) -> list[str]:
    headers = ["", *(v.row.folder for v in views)]
    rows: list[list[str]] = [
        ["status", *(v.row.status + (f" ({v.row.reason})" if v.row.reason else "") for v in views)],
        ["started (UTC)", *(fmt.started(v.row.started_at) for v in views)],
        ["scorer", *(v.row.scorer or fmt.UNKNOWN for v in views)],
        ["optimizer", *(v.row.optimizer or fmt.UNKNOWN for v in views)],
        ["steps", *(fmt.count(v.row.steps) for v in views)],
    ]
    for who, attr in (("best", "best"), ("seed", "seed")):
        for split in ("train", "val", "test"):
            rows.append(
                [f"{who} {split}", *(fmt.pct(getattr(v.row, attr).get(split)) for v in views)]
            )
    rows += [
        ["Δ test (points)", *(fmt.points(v.row.improvement, ci=True) for v in views)],
        ["calls", *(fmt.count(v.row.calls) for v in views)],
        ["tokens", *(fmt.count(v.row.tokens) for v in views)],
        ["cost", *(fmt.usd(v.row.cost_usd) for v in views)],
        ["time", *(fmt.duration(v.row.duration_s) for v in views)],
    ]
    return table(headers, rows, set(headers[1:]))


def _curves(views: tuple[RunView, ...]) -> list[str]:
    headers = ["step"]
    for view in views:
        label = f"{view.row.folder} " if len(views) > 1 else ""
        headers += [f"{label}best", f"{label}mean"]
    curves = [{p.step: p for p in view.curve} for view in views]
    rows = []
    for step in sorted({s for curve in curves for s in curve}):
        cells = [str(step)]
        for curve in curves:
            point = curve.get(step)
            cells += [fmt.pct(point.best), fmt.pct(point.mean)] if point else ["", ""]
        rows.append(cells)
    return table(headers, rows, set(headers))


def diff_markdown(view: RunView) -> str:
    out: list[str] = []
    for op, lead, words, trail in display_ops(view.diff or ()):
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
    best_id = detail.best.id if detail.best else None
    if view.top:
        rows = [
            [
                str(rank),
                str(c.step),
                c.origin + (f" ({view.best_label})" if c.id == best_id else ""),
                fmt.pct(c.scores.train),
                fmt.pct(c.scores.val),
                fmt.pct(c.scores.test),
                fmt.one_line(c.text, 120),
            ]
            for rank, c in enumerate(view.top, start=1)
        ]
        headers = ["#", "step", "origin", "train", "val", "test", "prompt"]
        lines += ["Top candidates (by train score):", ""]
        lines += [*table(headers, rows, {"#", "step", "train", "val", "test"}), ""]
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
        for label, items in (("Fixed", changes.fixed), ("Broken", changes.broken)):
            if items:
                rows = [
                    [
                        item.example_id,
                        fmt.one_line(item.seed_output or "(no answer)", 60),
                        fmt.one_line(item.best_output or "(no answer)", 60),
                    ]
                    for item in items[:EXAMPLES_SHOWN]
                ]
                lines += [f"{label} (first {EXAMPLES_SHOWN}):", ""]
                lines += [*table(["example", "seed answer", "winner answer"], rows), ""]
    return lines


def render_details(report: Report) -> list[str]:
    views = report.views
    lines = ["### opro report", "", *_comparison(views), ""]
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
        ci = fmt.interval(imp)
        lines += [
            f"Test improvement over the seed: **{fmt.signed_points(imp.test_delta)} points**"
            f"{', ' + ci if ci else ''}, n={imp.n}",
            "",
        ]
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
