"""The report as Rich renderables for the terminal (pure: returns renderables, prints nothing)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, JustifyMethod, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from opro_cli import formatting as fmt
from opro_cli.report import text as tables
from opro_cli.report.compare import EXAMPLES_SHOWN, Report, RunView, display_ops

STATUS_STYLE = {
    "completed": "green",
    "budget_exhausted": "yellow",
    "running": "cyan",
    "failed": "red",
    "interrupted": "magenta",
}
PROMPT_WIDTH = 70


def plain(cells: list[str]) -> list[Text]:
    """Cells as plain text: a string cell would be read as Rich markup, so a prompt or an answer
    holding ``[label]`` would lose it, and one holding ``[/INST]`` would stop the report."""
    return [Text(cell) for cell in cells]


def render_report(report: Report) -> Any:
    if report.detailed:
        return render_details(report)
    return render_listing(report)


def render_listing(report: Report) -> Any:
    if not report.rows:
        matching = " match the filters" if report.filtered else ""
        return Text(f"no runs in {report.runs_dir}{matching}")
    lead = tables.lead_results(report.rows, listing=True)
    return Group(*(Text(line, style="bold") for line in lead), Listing(report))


class Listing:
    """The listing, laid out for the terminal's width: every column when it fits; else a
    compact table whose first column stacks run, status and models (the run's folder name
    starts with its UTC start time); else one short block per run.

    Every one-line column gets a fixed width, the length of its longest cell, computed here:
    Rich would otherwise measure each of the 1,500 cells of 100 runs once to choose the layout
    and again to draw it, which took more time than reading the runs."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.cells = [tables.listing_cells(row) for row in report.rows]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update_width(10_000)
        wide = self.wide()
        if Measurement.get(console, unbounded, wide).maximum <= options.max_width:
            yield wide
            return
        compact = self.compact()
        if Measurement.get(console, unbounded, compact).minimum <= options.max_width:
            yield compact
        else:
            yield self.blocks()

    def _width(self, header: str, index: int) -> int:
        """The widest of the header's lines and the column's cells."""
        lines = [cell_len(part) for part in header.split("\n")]
        return max(lines + [cell_len(cells[index]) for cells in self.cells])

    def _table(self) -> Table:
        # Left padding only: a column costs two characters, not three.
        return Table(
            title=f"opro runs in {self.report.runs_dir} (newest first)",
            title_justify="left",
            caption="details: opro report RUN [RUN ...] (a folder name, or a unique part of one)",
            caption_justify="left",
            box=box.SIMPLE_HEAD,
            padding=(0, 0, 0, 1),
        )

    def wide(self) -> Table:
        table = self._table()
        for index, header in enumerate(tables.LISTING_HEADERS):
            justify: JustifyMethod = "right" if header in tables.NUMERIC else "left"
            table.add_column(
                header, justify=justify, no_wrap=True, width=self._width(header, index)
            )
        for row, cells in zip(self.report.rows, self.cells, strict=True):
            texts = plain(cells)
            texts[2] = Text(row.status, style=STATUS_STYLE.get(row.status, ""))
            table.add_row(*texts)
        return table

    def compact(self) -> Table:
        table = self._table()
        table.add_column("run (started: its name)\nstatus\nscorer / optimizer", overflow="fold")
        first = tables.LISTING_HEADERS.index("steps")
        for index, header in enumerate(tables.LISTING_HEADERS[first:], start=first):
            short = {"seed test": "seed\ntest", "Δ test": "Δ\ntest"}.get(header, header)
            table.add_column(short, justify="right", no_wrap=True, width=self._width(short, index))
        for row, cells in zip(self.report.rows, self.cells, strict=True):
            lead = Text(f"{cells[0]}\n")
            lead.append(row.status, style=STATUS_STYLE.get(row.status, ""))
            lead.append(f"\n{cells[3]} / {cells[4]}", style="dim")
            table.add_row(lead, *plain(cells[first:]))
        return table

    def blocks(self) -> Group:
        parts: list[Any] = [Text(f"opro runs in {self.report.runs_dir} (newest first)")]
        for row, c in zip(self.report.rows, self.cells, strict=True):
            head = Text(f"{c[0]}  ", style="bold")
            head.append(row.status, style=STATUS_STYLE.get(row.status, ""))
            head.append(f"  {c[1]}", style="")
            parts.append(head)
            parts.append(
                Padding(
                    Text(
                        f"{c[3]} / {c[4]} · {c[5]} steps · best train {c[6]} val {c[7]} "
                        f"test {c[8]} · seed test {c[9]} · Δ test {c[10]} · {c[11]} calls · "
                        f"{c[12]} tokens · cost {c[13]} · {c[14]}"
                    ),
                    (0, 0, 0, 2),
                )
            )
        return Group(*parts)


def _comparison(views: tuple[RunView, ...]) -> Table:
    table = Table(title="Runs", title_justify="left")
    table.add_column("")
    for view in views:
        table.add_column(Text(view.row.folder), justify="right", overflow="fold")
    for label, cells in tables.comparison_rows(views):
        table.add_row(label, *plain(cells))
    return table


def _curves(views: tuple[RunView, ...]) -> Table:
    table = Table(
        title="Train score per step (best so far / mean of the step)", title_justify="left"
    )
    headers, rows = tables.curve_table(views)
    table.add_column(headers[0], justify="right")
    for header in headers[1:]:
        table.add_column(Text(header), justify="right", overflow="fold")
    for cells in rows:
        table.add_row(*cells)
    return table


def _top(view: RunView) -> Table:
    table = Table(title="Top candidates (by train score)", title_justify="left")
    for header in tables.TOP_HEADERS:
        table.add_column(header, justify="right" if header in tables.TOP_NUMERIC else "left")
    for r in tables.top_rows(view):
        origin = r.cells[2] + (f" ({view.best_label})" if r.winner else "")
        table.add_row(
            *plain([*r.cells[:2], origin, *r.cells[3:], fmt.one_line(r.text, PROMPT_WIDTH)])
        )
    return table


def diff_text(view: RunView) -> Text:
    out = Text()
    for op, lead, words, trail in display_ops(view.diff or ()):
        style = {"delete": "red strike", "insert": "green bold"}.get(op, "")
        marked = {"delete": f"[-{words}-]", "insert": f"{{+{words}+}}"}.get(op, words)
        out.append(lead)
        out.append(marked if words else "", style=style)
        out.append(trail)
    return out


def _changes(view: RunView) -> list[Any]:
    changes = view.changes
    if changes is None:
        return [Text(f"Test examples: {tables.no_changes(view)}.")]
    parts: list[Any] = [
        Text(
            f"Test examples (n={changes.n}): the winner fixed {len(changes.fixed)}, "
            f"broke {len(changes.broken)}, {changes.unchanged} unchanged."
        )
    ]
    for label, items in tables.change_tables(view):
        table = Table(title=f"{label} (first {EXAMPLES_SHOWN})", title_justify="left")
        for header in tables.CHANGE_HEADERS:
            table.add_column(header)
        for item in items:
            table.add_row(
                *plain(
                    [
                        item.example_id,
                        fmt.one_line(item.seed_output or tables.NO_ANSWER, 40),
                        fmt.one_line(item.best_output or tables.NO_ANSWER, 40),
                    ]
                )
            )
        parts.append(table)
    return parts


def render_run(view: RunView) -> Any:
    detail = view.detail
    parts: list[Any] = [Rule(Text(view.row.folder), align="left")]
    if not view.row.has_summary:
        parts.append(
            Text(
                f"status {view.row.status}: no summary.json yet; best so far is on train only",
                style="yellow",
            )
        )
    if view.top:
        parts.append(_top(view))
    else:
        parts.append(Text("no candidates recorded"))
    if detail.best is not None and detail.seed is not None:
        parts.append(
            Text(
                f"{view.best_label.capitalize()} against the seed ([-removed-] {{+added+}}):",
                style="bold",
            )
        )
        parts.append(Padding(diff_text(view), (0, 0, 0, 2)))
    parts += _changes(view)
    return Group(*parts)


def render_details(report: Report) -> Any:
    views = report.views
    lead = tables.lead_results([v.row for v in views], listing=False)
    parts: list[Any] = [*(Text(line, style="bold") for line in lead), _comparison(views)]
    if any(v.curve for v in views):
        parts.append(_curves(views))
    parts += [render_run(v) for v in views]
    return Group(*parts)
