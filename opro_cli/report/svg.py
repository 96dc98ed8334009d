"""The report's charts as hand-written SVG: a line chart of the best train score per step and a
scatter of every candidate's train score.

Two simple chart types do not justify a plotting dependency, and SVG written here needs no
network, no JavaScript and no fonts beyond the system's. Every chart element carries its data in
``data-*`` attributes (tests read them back), and every point has a ``<title>`` tooltip.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from opro_cli import formatting as fmt
from opro_cli.report.compare import RunView
from opro_cli.report.reader import CandidateRow

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
        groups: dict[int, list[CandidateRow]] = {}
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
