"""The report as one self-contained HTML page: inline SVG charts, inline CSS, no script, no URL.

The charts are hand-written SVG (``svg.py``). All user text (prompts, answers, names) is
escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from opro_cli import formatting as fmt
from opro_cli.report.compare import EXAMPLES_SHOWN, Report, RunView, display_ops
from opro_cli.report.reader import RunRow
from opro_cli.report.svg import color, esc, legend, line_chart, result_chart, scatter_chart
from opro_cli.report.text import (
    CHANGE_HEADERS,
    LISTING_HEADERS,
    NUMERIC,
    TOP_HEADERS,
    TOP_NUMERIC,
    change_tables,
    listing_cells,
    no_changes,
    top_rows,
)


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: AbstractSet[str],
    nowrap: AbstractSet[str] = frozenset(),
    css_class: str = "",
) -> str:
    """A table of cells that are already HTML (escaped by the caller)."""

    def kind(header: str) -> str:
        return "num" if header in numeric else "nowrap" if header in nowrap else ""

    head = "".join(f'<th class="{kind(h)}">{esc(h)}</th>' for h in headers)
    cells = (zip(headers, row, strict=True) for row in rows)
    body = "".join(
        "<tr>" + "".join(f'<td class="{kind(h)}">{cell}</td>' for h, cell in row) + "</tr>"
        for row in cells
    )
    table_class = f' class="{css_class}"' if css_class else ""
    return (
        f'<div class="scroll"><table{table_class}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def breakable(text: str) -> str:
    """Escaped text that may wrap after ``/``, ``-`` and ``_`` (run folders, model names), so
    the leaderboard fits a 1200 px page instead of scrolling."""
    return re.sub(r"([/_-])", r"\1<wbr>", esc(text))


WRAPPED = {"run", "scorer", "optimizer"}


def leaderboard(rows: Sequence[RunRow], charted: dict[str, int]) -> str:
    """The listing's columns; a charted run gets its colour and a link to its section."""
    out = []
    for row in rows:
        cells = [
            breakable(c) if h in WRAPPED else esc(c)
            for h, c in zip(LISTING_HEADERS, listing_cells(row), strict=True)
        ]
        index = charted.get(row.folder)
        if index is not None:
            cells[0] = (
                f'<span class="swatch" style="background:{color(index)}"></span>'
                f'<a href="#run-{index}">{cells[0]}</a>'
            )
        cells[2] = f'<span class="status {esc(row.status)}">{cells[2]}</span>'
        out.append(cells)
    return _table(LISTING_HEADERS, out, NUMERIC, {"started (UTC)", "status"}, "leaderboard")


def diff_html(view: RunView) -> str:
    out = []
    for op, lead, words, trail in display_ops(view.diff or ()):
        tag = {"delete": "del", "insert": "ins"}.get(op)
        shown = esc(words)
        out.append(esc(lead) + (f"<{tag}>{shown}</{tag}>" if tag and words else shown) + esc(trail))
    return f'<p class="diff">{"".join(out) or "(both empty)"}</p>'


def test_results(rows: Sequence[RunRow]) -> str:
    """Each run's test result in words, as the terminal and Markdown reports lead with it."""
    items = "".join(
        f"<li><strong>{esc(row.folder)}</strong>: "
        f"{esc(fmt.result_line(row.best.test, row.seed.test, row.improvement))}</li>"
        for row in rows
        if row.has_summary
    )
    return f'<ul class="results">{items}</ul>' if items else ""


def run_section(index: int, view: RunView, *, open_: bool) -> str:
    row, detail = view.row, view.detail
    parts = [
        f'<details id="run-{index}" class="run"{" open" if open_ else ""}>',
        f'<summary><span class="swatch" style="background:{color(index)}"></span>'
        f'{esc(row.folder)} <span class="status {esc(row.status)}">{esc(row.status)}</span>'
        "</summary>",
    ]
    facts = [
        f"scorer <code>{esc(row.scorer or fmt.UNKNOWN)}</code>",
        f"optimizer <code>{esc(row.optimizer or fmt.UNKNOWN)}</code>",
        f"best test {fmt.pct(row.best.test)} vs seed {fmt.pct(row.seed.test)}",
        f"Δ test {esc(fmt.points(row.improvement, ci=True))} points",
        f"cost {esc(fmt.usd(row.cost_usd))}",
    ]
    parts.append(f'<p class="muted">{" · ".join(facts)}</p>')
    if row.reason:
        parts.append(f'<p class="muted">reason: {esc(row.reason)}</p>')
    if not row.has_summary:
        parts.append(
            f'<p class="note">status {esc(row.status)}: no summary yet; '
            "the best so far is on train only.</p>"
        )
    if detail.best is not None and detail.seed is not None:
        parts.append(
            f"<h4>{view.best_label.capitalize()} against the seed</h4>"
            '<p class="muted">removed: <del>struck out</del> · added: <ins>underlined</ins></p>'
            + diff_html(view)
        )
    if view.top:
        rows = [
            [
                *r.cells[:2],
                esc(r.cells[2]) + (f" <strong>({view.best_label})</strong>" if r.winner else ""),
                *r.cells[3:],
                f'<span class="prompt">{esc(r.text) or fmt.EMPTY_INSTRUCTION}</span>',
            ]
            for r in top_rows(view)
        ]
        parts.append("<h4>Top candidates (by train score)</h4>")
        parts.append(_table(TOP_HEADERS, rows, TOP_NUMERIC))
    changes = view.changes
    if changes is None and row.has_summary:
        parts.append(f'<p class="muted">Test examples: {esc(no_changes(view))}.</p>')
    if changes is not None:
        parts.append(
            f"<h4>Test examples</h4><p>n={changes.n}: the winner fixed "
            f"<strong>{len(changes.fixed)}</strong>, broke <strong>{len(changes.broken)}"
            f"</strong>, {changes.unchanged} unchanged.</p>"
        )
        for label, items in change_tables(view):
            rows = [
                [esc(i.example_id), esc(i.seed_output or ""), esc(i.best_output or "")]
                for i in items
            ]
            parts.append(f'<p class="muted">{label} (first {EXAMPLES_SHOWN}):</p>')
            parts.append(_table(CHANGE_HEADERS, rows, set()))
    parts.append("</details>")
    return "".join(parts)


CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:#1f2328;margin:0 auto;max-width:1200px;padding:16px 24px;background:#fff}
h1{font-size:24px;margin:4px 0}h2{font-size:19px;margin:28px 0 8px}h4{margin:14px 0 6px}
.muted{color:#59636e}.note{color:#9a6700}
figure{margin:12px 0 20px}figcaption{font-weight:600;margin-bottom:4px}
svg{width:100%;height:auto;display:block}
svg .grid{stroke:#e5e7eb}svg .axis,svg .tickmark{stroke:#6b7280}
svg .tick{font-size:12px;fill:#4b5563}svg .label{font-size:13px;fill:#1f2328}
svg .best{fill:none;stroke-linejoin:round}svg .mean{fill:none;stroke-width:1.5;
stroke-dasharray:5 4;opacity:.65}
svg .point{stroke:#fff;stroke-width:1;opacity:.9}svg .winner{fill:none;stroke-width:2.5}
.legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 18px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;
vertical-align:-1px}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:6px 0 12px;font-size:12.5px}
table.leaderboard{width:100%;font-size:12px}table.leaderboard th{white-space:normal}
table.leaderboard th,table.leaderboard td{padding:3px 5px}
svg .run-name,svg .verdict{font-size:12px;fill:#1f2328}
svg .change{stroke-width:1.5;stroke-dasharray:3 3;opacity:.7}
svg .seed-test{fill:#fff;stroke-width:2}
svg .winner-test{stroke:#fff;stroke-width:1}svg .whisker line{stroke-width:2}
svg .significant .verdict{fill:#1a7f37;font-weight:600}svg .unknown .verdict{fill:#59636e}
svg .overlap-count{font-size:11px;fill:#4b5563}
.results{margin:4px 0 0;padding-left:18px;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 8px;vertical-align:top;text-align:left}
th{background:#f6f8fa}.num,.nowrap{text-align:right;white-space:nowrap}.nowrap{text-align:left}
.status.completed{color:#1a7f37}.status.failed{color:#cf222e}.status.running{color:#0969da}
.status.interrupted{color:#8250df}.status.budget_exhausted{color:#9a6700}
.diff,.prompt{white-space:pre-wrap}.diff{background:#f6f8fa;padding:8px 10px;border-radius:6px}
del{background:#ffebe9;color:#82071e}ins{background:#dafbe1;color:#116329}
details.run{border-top:1px solid #d0d7de;padding:6px 0}summary{font-weight:600;cursor:pointer}
a{color:#0969da;text-decoration:none}
"""


def render_html(report: Report) -> str:
    views = report.views
    title = "opro report"
    charted = {v.row.folder: i for i, v in enumerate(views)}
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<p class="muted">{len(report.rows)} run(s) from <code>{esc(str(report.runs_dir))}'
        "</code>; scores are percentages of examples right (train split unless noted).</p>",
    ]
    if not report.rows:
        parts.append(f"<p>{report.no_runs}</p></body></html>")
        return "\n".join(parts) + "\n"
    if views:
        parts += [
            '<figure id="chart-test"><figcaption>Test score of the winner (●) against the seed '
            '(■), per run <span class="muted">(on the test split, which the optimization never '
            "saw; whisker: the confidence interval of the improvement, drawn from the seed's "
            "score; the verdict on the right)</span></figcaption>",
            result_chart([v.row for v in views]),
            test_results([v.row for v in views]),
            "</figure>",
            '<figure id="chart-best"><figcaption>Best train score so far, per step '
            '<span class="muted">(solid: best so far; dashed: mean of the step\'s new '
            "candidates)</span></figcaption>",
            legend(views),
            line_chart(views),
            "</figure>",
            '<figure id="chart-candidates"><figcaption>Every candidate\'s train score, by step '
            '<span class="muted">(■ seed prompt, ● proposal, ring: the winner)</span>'
            "</figcaption>",
            legend(views),
            scatter_chart(views),
            "</figure>",
        ]
    parts += ["<h2>Leaderboard</h2>", leaderboard(report.rows, charted)]
    if views:
        parts.append("<h2>Runs</h2>")
        parts += [run_section(i, v, open_=report.detailed or i == 0) for i, v in enumerate(views)]
    if report.warnings or report.notes:
        items = "".join(f"<li>{esc(w)}</li>" for w in (*report.warnings, *report.notes))
        parts.append(f'<h2>Warnings and notes</h2><ul class="muted">{items}</ul>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
