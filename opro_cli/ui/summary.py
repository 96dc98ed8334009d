"""The final summary of a run, as Rich text (pure)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from opro_cli.formatting import EMPTY_INSTRUCTION, pct, result_line, usd
from opro_cli.rundir import SPLITS, Summary
from opro_cli.secrets import redact


def render_summary(summary: Summary) -> RenderableType:
    best, seed = summary.best, summary.best_seed
    table = Table(show_edge=False, box=None, padding=(0, 2))
    table.add_column("")
    for split in SPLITS:
        table.add_column(split, justify="right")
    table.add_row("best prompt", *(pct(best.score(s)) for s in SPLITS))
    table.add_row("seed prompt", *(pct(seed.score(s)) for s in SPLITS))
    reason = f" ({redact(summary.reason)})" if summary.reason else ""
    lines: list[RenderableType] = [
        Text(f"status: {summary.status}{reason}"),
        Text("best prompt:", style="bold"),
        Text(redact(best.text) or EMPTY_INSTRUCTION),
        Text(""),
        table,
    ]
    imp = summary.improvement
    if imp is not None:
        style = "bold green" if imp.significant else "yellow"
        lines.append(Text(result_line(best.test, seed.test, imp), style=style))
    u = summary.usage
    lines.append(
        Text(
            f"{summary.steps_completed} steps, {summary.candidates} candidates, "
            f"{u.calls} calls ({u.failed_calls} failed, {u.retries} retries, "
            f"{u.cache_hits} answered from cache), "
            f"{u.tokens} tokens, cost {usd(u.cost_usd)}, {summary.duration_s or 0:.1f}s"
        )
    )
    for note in summary.notes:
        lines.append(Text(f"note: {redact(note)}", style="yellow"))
    lines.append(Text(f"run directory: {summary.run_dir}"))
    return Panel(Group(*lines), title=f"opro · {summary.name}", title_align="left")
