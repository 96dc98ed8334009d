"""The report's charts as hand-written SVG: the test result of each run (the winner and the seed
on test, with the interval of the improvement and the verdict), a line chart of the best train
score per step, and a scatter of every candidate's train score.

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
from opro_cli.report.reader import CandidateRow, RunRow
from opro_cli.rundir import Improvement

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
FLOOR = 10  # the lowest score sits this far above the x axis, so points there are not on it
OVERLAP_PX = 6.0  # candidates of a step closer than this on y are laid out side by side
POINT_GAP = 9.0  # centre to centre, side by side (points are 8 px wide)


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
        return TOP + (1.0 - share) * (self.plot_h - FLOOR)

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
            placed: dict[str, tuple[float, int]] = {}  # id -> x, size of its cluster
            counts = []
            for cluster in _clusters(axes, members):
                gap = min(POINT_GAP, lane * 0.9 / len(cluster))
                for k, c in enumerate(cluster):
                    placed[c.id] = (center + (k - (len(cluster) - 1) / 2) * gap, len(cluster))
                if gap < POINT_GAP * 0.7:  # they still overlap: say how many there are
                    y = axes.y(cluster[0].scores.train or 0.0)
                    counts.append(
                        f'<text class="overlap-count" data-count="{len(cluster)}" '
                        f'x="{center:.1f}" y="{y - 8:.1f}" text-anchor="middle">'
                        f"×{len(cluster)}</text>"
                    )
            for c in members:  # in the order they were proposed
                x, size = placed[c.id]
                y = axes.y(c.scores.train or 0.0)
                body += _candidate(c, x, y, paint, name, size, c.id == best_id)
            body += counts
        body.append("</g>")
    return _svg(body, "Train score of every candidate by step")


def _clusters(axes: _Axes, members: Sequence[CandidateRow]) -> list[list[CandidateRow]]:
    """A step's candidates grouped where their points would overlap on y (within a group, in
    the order they were proposed)."""
    ordered = sorted(members, key=lambda c: c.scores.train or 0.0)
    clusters: list[list[CandidateRow]] = []
    for c in ordered:
        y = axes.y(c.scores.train or 0.0)
        if clusters and abs(axes.y(clusters[-1][0].scores.train or 0.0) - y) < OVERLAP_PX:
            clusters[-1].append(c)
        else:
            clusters.append([c])
    order = {c.id: i for i, c in enumerate(members)}
    return [sorted(cluster, key=lambda c: order[c.id]) for cluster in clusters]


def _candidate(
    c: CandidateRow, x: float, y: float, paint: str, run: str, overlap: int, winner: bool
) -> list[str]:
    tip = (
        f"<title>{esc(run)}\nstep {c.step} · {esc(c.origin)} · "
        f"train {fmt.pct(c.scores.train)}\n{esc(fmt.one_line(c.text, 300))}</title>"
    )
    attrs = (
        f'data-step="{c.step}" data-score="{c.scores.train!r}" '
        f'data-id="{esc(c.id)}" data-origin="{esc(c.origin)}" data-overlap="{overlap}"'
    )
    if c.origin == "seed":
        out = [
            f'<rect class="point" {attrs} x="{x - 4:.1f}" y="{y - 4:.1f}" '
            f'width="8" height="8" fill="{paint}">{tip}</rect>'
        ]
    else:
        out = [
            f'<circle class="point" {attrs} cx="{x:.1f}" cy="{y:.1f}" r="4" '
            f'fill="{paint}">{tip}</circle>'
        ]
    if winner:
        out.append(f'<circle class="winner" cx="{x:.1f}" cy="{y:.1f}" r="8" stroke="{paint}"/>')
    return out


def legend(views: Sequence[RunView]) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{color(i)}"></span>'
        f'<a href="#run-{i}">{esc(v.row.folder)}</a> '
        f'<span class="muted">{esc(v.row.status)}</span></li>'
        for i, v in enumerate(views)
    )
    return f'<ul class="legend">{items}</ul>'


# -- the test result: winner and seed on test, per run ----------------------------------------

TEST_LEFT, TEST_RIGHT, TEST_ROW, TEST_TOP, TEST_BOTTOM = 250, 230, 34, 12, 46
NAME_CHARS = 30


@dataclass(frozen=True)
class _TestAxes:
    """Test scores 0-100% on x between the run names (left) and the verdicts (right)."""

    rows: int

    @property
    def height(self) -> int:
        return TEST_TOP + max(1, self.rows) * TEST_ROW + TEST_BOTTOM

    def x(self, score: float) -> float:
        share = min(1.0, max(0.0, score))
        return TEST_LEFT + share * (WIDTH - TEST_LEFT - TEST_RIGHT)

    def y(self, row: int) -> float:
        return TEST_TOP + (row + 0.5) * TEST_ROW

    def svg(self) -> list[str]:
        bottom = self.height - TEST_BOTTOM
        out = []
        for tick in range(0, 101, 10):
            x = self.x(tick / 100)
            out.append(
                f'<line class="grid" x1="{x:.1f}" y1="{TEST_TOP}" x2="{x:.1f}" y2="{bottom}"/>'
                f'<text class="tick" x="{x:.1f}" y="{bottom + 17}" text-anchor="middle">{tick}'
                "</text>"
            )
        out.append(
            f'<line class="axis" x1="{TEST_LEFT}" y1="{bottom}" x2="{WIDTH - TEST_RIGHT}" '
            f'y2="{bottom}"/>'
            f'<text class="label" x="{self.x(0.5):.1f}" y="{self.height - 8}" '
            'text-anchor="middle">test score (%)</text>'
        )
        return out


def _verdict_class(improvement: Improvement | None) -> str:
    if improvement is None or improvement.significant is None:
        return "unknown"
    return "significant" if improvement.significant else "not-significant"


def _verdict_label(row: RunRow) -> str:
    imp = row.improvement
    if imp is None:
        return "no test result" if row.has_summary else f"no result yet ({row.status})"
    points = f"{fmt.signed_points(imp.test_delta)} pts"
    if imp.significant is None:
        return f"{points} · no verdict"
    return f"{points} · {'significant' if imp.significant else 'not significant'}"


def result_chart(rows: Sequence[RunRow]) -> str:
    """One row per run: the seed's test score (square), the winner's (circle), and a whisker for
    the interval of the improvement, drawn from the seed's score (seed + low to seed + high:
    where the winner's score lies at the interval's level); the verdict on the right."""
    axes = _TestAxes(len(rows))
    body = axes.svg()
    for index, row in enumerate(rows):
        y = axes.y(index)
        paint = color(index)
        imp = row.improvement
        winner, seed = row.best.test, row.seed.test
        low = high = None
        if imp is not None and seed is not None and imp.ci_low is not None:
            low = min(1.0, max(0.0, seed + imp.ci_low))
        if imp is not None and seed is not None and imp.ci_high is not None:
            high = min(1.0, max(0.0, seed + imp.ci_high))
        attrs = {
            "run": row.folder,
            "winner-test": winner,
            "seed-test": seed,
            "delta": imp.test_delta if imp else None,
            "ci-low": imp.ci_low if imp else None,
            "ci-high": imp.ci_high if imp else None,
            "ci-level": imp.ci_level if imp else None,
            "n": imp.n if imp else None,
            "p-value": imp.p_value if imp else None,
            "significant": None if imp is None else imp.significant,
        }
        data = " ".join(f'data-{k}="{esc(_attr(v))}"' for k, v in attrs.items())
        body.append(f'<g class="test-result {_verdict_class(imp)}" {data}>')
        tip = esc(f"{row.folder}\n{fmt.result_line(winner, seed, imp)}")
        body.append(
            f'<text class="run-name" x="{TEST_LEFT - 12}" y="{y + 4:.1f}" text-anchor="end">'
            f"{esc(fmt.one_line(row.folder, NAME_CHARS))}<title>{tip}</title></text>"
        )
        if low is not None and high is not None:
            x1, x2 = axes.x(low), axes.x(high)
            body.append(
                f'<g class="whisker" data-low-score="{low!r}" data-high-score="{high!r}">'
                f'<line x1="{x1:.1f}" y1="{y:.1f}" x2="{x2:.1f}" y2="{y:.1f}" stroke="{paint}"/>'
                f'<line x1="{x1:.1f}" y1="{y - 6:.1f}" x2="{x1:.1f}" y2="{y + 6:.1f}" '
                f'stroke="{paint}"/>'
                f'<line x1="{x2:.1f}" y1="{y - 6:.1f}" x2="{x2:.1f}" y2="{y + 6:.1f}" '
                f'stroke="{paint}"/></g>'
            )
        if seed is not None and winner is not None:
            body.append(
                f'<line class="change" x1="{axes.x(seed):.1f}" y1="{y:.1f}" '
                f'x2="{axes.x(winner):.1f}" y2="{y:.1f}" stroke="{paint}"/>'
            )
        if seed is not None:
            x = axes.x(seed)
            body.append(
                f'<rect class="seed-test" data-score="{seed!r}" x="{x - 5:.1f}" y="{y - 5:.1f}" '
                f'width="10" height="10" stroke="{paint}"><title>{tip}</title></rect>'
            )
        if winner is not None:
            body.append(
                f'<circle class="winner-test" data-score="{winner!r}" cx="{axes.x(winner):.1f}" '
                f'cy="{y:.1f}" r="6" fill="{paint}"><title>{tip}</title></circle>'
            )
        body.append(
            f'<text class="verdict" x="{WIDTH - TEST_RIGHT + 14}" y="{y + 4:.1f}">'
            f"{esc(_verdict_label(row))}</text>"
        )
        body.append("</g>")
    return (
        f'<svg viewBox="0 0 {WIDTH} {axes.height}" role="img" '
        f'aria-label="Test score of the winner and the seed, per run">' + "".join(body) + "</svg>"
    )


def _attr(value: float | int | bool | str | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)
