"""The final summary of a run, as Rich text (pure)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}"


def render_summary(summary: dict[str, Any]) -> Any:
    best, seed = summary["best"], summary["best_seed"]
    reason = summary.get("reason")
    table = Table(show_edge=False, box=None, padding=(0, 2))
    table.add_column("")
    for split in ("train", "val", "test"):
        table.add_column(split, justify="right")
    table.add_row("best prompt", *(pct(best[s]) for s in ("train", "val", "test")))
    table.add_row("seed prompt", *(pct(seed[s]) for s in ("train", "val", "test")))
    lines: list[Any] = [
        Text(f"status: {summary['status']}" + (f" ({reason})" if reason else "")),
        Text("best prompt:", style="bold"),
        Text(best["text"] or "(empty instruction)"),
        Text(""),
        table,
    ]
    imp = summary.get("improvement")
    if imp is not None:
        ci = ""
        if imp["ci_low"] is not None:
            ci = f", {imp['ci_level'] * 100:.0f}% CI [{pct(imp['ci_low'])}, {pct(imp['ci_high'])}]"
        lines.append(
            Text(
                f"test improvement over the seed: {imp['test_delta'] * 100:+.1f} points{ci}, "
                f"n={imp['n']}"
            )
        )
    u = summary["usage"]
    cost = "unknown" if u["cost_usd"] is None else f"${u['cost_usd']:.4f}"
    lines.append(
        Text(
            f"{summary['steps_completed']} steps, {summary['candidates']} candidates, "
            f"{u['calls']} calls ({u['failed_calls']} failed, {u['retries']} retries, "
            f"{u.get('cache_hits', 0)} answered from cache), "
            f"{u['tokens']} tokens, cost {cost}, {summary.get('duration_s', 0):.1f}s"
        )
    )
    lines.append(Text(f"run directory: {summary['run_dir']}"))
    return Panel(Group(*lines), title=f"opro · {summary['name']}", title_align="left")
