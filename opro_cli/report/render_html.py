"""The report as one self-contained HTML page: inline SVG charts, inline CSS, no script, no URL.

Charts are hand-written SVG: two simple chart types do not justify a plotting dependency, and
SVG written here needs no network, no JavaScript and no fonts beyond the system's. Every chart
element carries its data in ``data-*`` attributes (tests read them back), and every point has a
``<title>`` tooltip. All user text (prompts, answers, names) is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from opro_cli import formatting as fmt
from opro_cli.report.compare import EXAMPLES_SHOWN, Report, RunView, display_ops
from opro_cli.report.reader import RunRow
from opro_cli.report.text import LISTING_HEADERS, NUMERIC, listing_cells

# Tableau 10: distinct hues that stay apart for the common colour-vision deficiencies.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
WIDTH, HEIGHT = 960, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 16, 52


def esc(text: str) -> str:
    """Escape for HTML text and attributes; ``://`` is written as an entity, so even a URL
    inside a prompt is shown as text and the page contains no URL at all."""
    return html.escape(text, quote=True).replace("://", ":&#47;&#47;")


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _data(values: Iterable[float | int | None]) -> str:
    return " ".join("null" if v is None else repr(v) for v in values)


@dataclass(frozen=True)
class _Axes:
    """Steps on x (half a step of room at each end), scores on y between ``low`` and ``high``
    (fractions; 0-1 unless the data sit in a narrower band)."""

    max_step: int
    low: float = 0.0
    high: float = 1.0

    @property
    def plot_w(self) -> float:
        return WIDTH - LEFT - RIGHT

    @property
    def plot_h(self) -> float:
        return HEIGHT - TOP - BOTTOM

    @property
    def step_w(self) -> float:
        return self.plot_w / (self.max_step + 1)

    def x(self, step: float) -> float:
        return LEFT + (step + 0.5) * self.step_w

    def y(self, score: float) -> float:
        share = (min(self.high, max(self.low, score)) - self.low) / (self.high - self.low)
        return TOP + (1.0 - share) * self.plot_h

    def y_ticks(self) -> list[float]:
        span = self.high - self.low
        every = 0.05 if span <= 0.25 else 0.1 if span <= 0.5 else 0.2
        count = int(round(span / every))
        return [self.low + i * every for i in range(count + 1)]

    def svg(self, label: str) -> list[str]:
        """Grid, ticks and axis titles."""
        out = []
        for tick in self.y_ticks():
            y = self.y(tick)
            out.append(
                f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
                f'<text class="tick" x="{LEFT - 8}" y="{y + 4:.1f}" '
                f'text-anchor="end">{tick * 100:.0f}</text>'
            )
        every = max(1, -(-(self.max_step + 1) // 20))
        for step in range(0, self.max_step + 1, every):
            x = self.x(step)
            out.append(
                f'<line class="tickmark" x1="{x:.1f}" y1="{HEIGHT - BOTTOM}" x2="{x:.1f}" '
                f'y2="{HEIGHT - BOTTOM + 5}"/>'
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 19}" '
                f'text-anchor="middle">{step}</text>'
            )
        out.append(
            f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}"/>'
            f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" '
            f'y2="{HEIGHT - BOTTOM}"/>'
            f'<text class="label" x="{LEFT + self.plot_w / 2:.1f}" y="{HEIGHT - 10}" '
            f'text-anchor="middle">step (0 = the seed prompts)</text>'
            f'<text class="label" transform="translate(16 {TOP + self.plot_h / 2:.1f}) '
            f'rotate(-90)" text-anchor="middle">{esc(label)}</text>'
        )
        return out


def _axes(views: Sequence[RunView]) -> _Axes:
    """One scale for both charts: every step, and a score range in tenths that holds every
    plotted score (at least 0.2 wide), so close scores do not flatten into one line."""
    steps = [p.step for v in views for p in v.curve]
    steps += [c.step for v in views for c in v.detail.candidates]
    scores = [s for v in views for p in v.curve for s in (p.best, p.mean) if s is not None]
    scores += [
        c.scores.train for v in views for c in v.detail.candidates if c.scores.train is not None
    ]
    if not scores:
        return _Axes(max(steps, default=0))
    low = max(0.0, math.floor(min(scores) * 10 + 1e-9) / 10)
    high = min(1.0, math.ceil(max(scores) * 10 - 1e-9) / 10)
    if high - low < 0.2:
        high = min(1.0, low + 0.2)
        low = max(0.0, high - 0.2)
    return _Axes(max(steps, default=0), round(low, 1), round(high, 1))


def _width(index: int, total: int) -> float:
    """Earlier runs draw wider, so identical stretches of several runs show as nested bands."""
    return 2.5 + 1.75 * min(total - 1 - index, 3)


def _svg(body: Sequence[str], title: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(title)}">'
        + "".join(body)
        + "</svg>"
    )


def line_chart(views: Sequence[RunView]) -> str:
    """Best-so-far train score per step (solid) and the step's mean (dashed), one colour a run."""
    axes = _axes(views)
    body = axes.svg("train score (%)")
    for index, view in enumerate(views):
        curve = view.curve
        width = _width(index, len(views))
        paint = color(index)
        name = view.row.folder
        body.append(
            f'<g class="series" data-run="{esc(name)}" '
            f'data-steps="{_data(p.step for p in curve)}" '
            f'data-best="{_data(p.best for p in curve)}" '
            f'data-mean="{_data(p.mean for p in curve)}">'
        )
        mean = [(p.step, p.mean) for p in curve if p.mean is not None]
        best = [(p.step, p.best) for p in curve if p.best is not None]
        if len(mean) > 1:
            body.append(f'<polyline class="mean" stroke="{paint}" points="{_points(axes, mean)}"/>')
        if len(best) > 1:
            body.append(
                f'<polyline class="best" stroke="{paint}" stroke-width="{width}" '
                f'points="{_points(axes, best)}"/>'
            )
        for step, score in best:
            body.append(
                f'<circle cx="{axes.x(step):.1f}" cy="{axes.y(score):.1f}" r="{width / 2 + 2}" '
                f'fill="{paint}">'
                f"<title>{esc(name)}\nstep {step}: best {fmt.pct(score)}</title></circle>"
            )
        body.append("</g>")
    return _svg(body, "Best train score so far per step, one line per run")


def _points(axes: _Axes, values: Sequence[tuple[int, float]]) -> str:
    return " ".join(f"{axes.x(s):.1f},{axes.y(v):.1f}" for s, v in values)


def scatter_chart(views: Sequence[RunView]) -> str:
    """Every candidate's train score by step; runs side by side within a step."""
    axes = _axes(views)
    body = axes.svg("train score (%)")
    band = min(axes.step_w * 0.7, 60.0)
    lane = band / max(1, len(views))
    for index, view in enumerate(views):
        paint = color(index)
        name = view.row.folder
        best_id = view.detail.best.id if view.detail.best else None
        body.append(f'<g class="candidates" data-run="{esc(name)}">')
        groups: dict[int, list] = {}
        for c in view.detail.candidates:
            if c.scores.train is not None:
                groups.setdefault(c.step, []).append(c)
        for step, members in sorted(groups.items()):
            center = axes.x(step) + (index - (len(views) - 1) / 2) * lane
            spread = min(4.0, lane * 0.8 / max(1, len(members)))
            for k, c in enumerate(members):
                x = center + (k - (len(members) - 1) / 2) * spread
                y = axes.y(c.scores.train or 0.0)
                tip = (
                    f"<title>{esc(name)}\nstep {c.step} · {esc(c.origin)} · "
                    f"train {fmt.pct(c.scores.train)}\n{esc(fmt.one_line(c.text, 300))}</title>"
                )
                attrs = (
                    f'data-step="{c.step}" data-score="{c.scores.train!r}" '
                    f'data-id="{esc(c.id)}" data-origin="{esc(c.origin)}"'
                )
                if c.origin == "seed":
                    body.append(
                        f'<rect class="point" {attrs} x="{x - 4:.1f}" y="{y - 4:.1f}" '
                        f'width="8" height="8" fill="{paint}">{tip}</rect>'
                    )
                else:
                    body.append(
                        f'<circle class="point" {attrs} cx="{x:.1f}" cy="{y:.1f}" r="4" '
                        f'fill="{paint}">{tip}</circle>'
                    )
                if c.id == best_id:
                    body.append(
                        f'<circle class="winner" cx="{x:.1f}" cy="{y:.1f}" r="8" stroke="{paint}"/>'
                    )
        body.append("</g>")
    return _svg(body, "Train score of every candidate by step")


def legend(views: Sequence[RunView]) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{color(i)}"></span>'
        f'<a href="#run-{i}">{esc(v.row.folder)}</a> '
        f'<span class="muted">{esc(v.row.status)}</span></li>'
        for i, v in enumerate(views)
    )
    return f'<ul class="legend">{items}</ul>'


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: AbstractSet[str],
    nowrap: AbstractSet[str] = frozenset(),
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
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def leaderboard(rows: Sequence[RunRow], charted: dict[str, int]) -> str:
    """The listing's columns; a charted run gets its colour and a link to its section."""
    out = []
    for row in rows:
        cells = [esc(c) for c in listing_cells(row)]
        index = charted.get(row.folder)
        if index is not None:
            cells[0] = (
                f'<span class="swatch" style="background:{color(index)}"></span>'
                f'<a href="#run-{index}">{cells[0]}</a>'
            )
        cells[2] = f'<span class="status {esc(row.status)}">{cells[2]}</span>'
        out.append(cells)
    return _table(LISTING_HEADERS, out, NUMERIC, {"started (UTC)", "status"})


def diff_html(view: RunView) -> str:
    out = []
    for op, lead, words, trail in display_ops(view.diff or ()):
        tag = {"delete": "del", "insert": "ins"}.get(op)
        shown = esc(words)
        out.append(esc(lead) + (f"<{tag}>{shown}</{tag}>" if tag and words else shown) + esc(trail))
    return f'<p class="diff">{"".join(out) or "(both empty)"}</p>'


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
        best_id = detail.best.id if detail.best else None
        rows = [
            [
                str(rank),
                str(c.step),
                esc(c.origin)
                + (f" <strong>({view.best_label})</strong>" if c.id == best_id else ""),
                fmt.pct(c.scores.train),
                fmt.pct(c.scores.val),
                fmt.pct(c.scores.test),
                f'<span class="prompt">{esc(c.text) or "(empty instruction)"}</span>',
            ]
            for rank, c in enumerate(view.top, start=1)
        ]
        headers = ["#", "step", "origin", "train", "val", "test", "prompt"]
        parts.append("<h4>Top candidates (by train score)</h4>")
        parts.append(_table(headers, rows, {"#", "step", "train", "val", "test"}))
    changes = view.changes
    if changes is not None:
        parts.append(
            f"<h4>Test examples</h4><p>n={changes.n}: the winner fixed "
            f"<strong>{len(changes.fixed)}</strong>, broke <strong>{len(changes.broken)}"
            f"</strong>, {changes.unchanged} unchanged.</p>"
        )
        for label, items in (("fixed", changes.fixed), ("broken", changes.broken)):
            if items:
                rows = [
                    [esc(i.example_id), esc(i.seed_output or ""), esc(i.best_output or "")]
                    for i in items[:EXAMPLES_SHOWN]
                ]
                parts.append(f'<p class="muted">{label} (first {EXAMPLES_SHOWN}):</p>')
                parts.append(_table(["example", "seed answer", "winner answer"], rows, set()))
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
