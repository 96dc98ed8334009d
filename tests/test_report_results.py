"""The report leads with the test result: the HTML page's first chart (winner and seed on test,
with the interval and the verdict), the same sentence first in the terminal and in Markdown, the
fixed/broken test examples in a listing too, and candidates that overlap spread or counted."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from test_report import interrupt, lines, make_run, report
from test_report_formats import markdown_html, text_of

from opro_cli.core.outcome import improvement as to_improvement
from opro_cli.core.significance import compare_paired
from opro_cli.formatting import result_line
from opro_cli.report import collect
from opro_cli.report.collect import collect_report
from opro_cli.report.render_html import render_html
from opro_cli.report.render_md import escape, render_markdown
from opro_cli.report.render_table import render_report
from opro_cli.rundir import Improvement


def with_verdict(run: Path) -> dict[str, Any]:
    """Write into summary.json the verdict the run's loop gives (winner against the best seed
    on its test answers), as runs written by the significance-aware loop carry it."""
    path = run / "summary.json"
    data = json.loads(path.read_text())
    tests: dict[str, dict[str, float]] = {}
    for e in lines(run / "evaluations.jsonl"):
        if e["split"] == "test":
            tests.setdefault(e["candidate_id"], {})[e["example_id"]] = e["score"]
    best, seed = tests[data["best"]["id"]], tests[data["best_seed"]["id"]]
    ids = sorted(best)
    c = compare_paired([best[i] for i in ids], [seed[i] for i in ids], rng=random.Random(0))
    data["improvement"] = to_improvement(c).to_json()
    path.write_text(json.dumps(data))
    return data


def without_verdict(run: Path) -> None:
    """summary.json as an opro from before the significance test wrote it."""
    path = run / "summary.json"
    data = json.loads(path.read_text())
    data["improvement"] = {
        k: data["improvement"][k] for k in ("test_delta", "ci_low", "ci_high", "ci_level", "n")
    }
    data["improvement"].update(ci_low=0.0, ci_high=0.0)  # the old bootstrap's, with no change
    path.write_text(json.dumps(data))


@pytest.fixture
def runs(parity_project, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A significant winner, a run that stays at its seed (written without a verdict, as an
    older opro did), and a cut run."""
    good = make_run(parity_project, tmp_path, name="good", budget={"steps": 2})
    with_verdict(good)
    flat = make_run(parity_project, tmp_path, name="flat", budget={"steps": 0})
    without_verdict(flat)
    cut = make_run(parity_project, tmp_path, name="cut", seed=12, budget={"steps": 3})
    interrupt(cut, keep_steps=2)
    return good, flat, cut


class Page(HTMLParser):
    """Every element of the page with its attributes, and the text of the results list."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.results: list[str] = []
        self._in_results = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.elements.append((tag, a))
        if tag == "ul" and a.get("class") == "results":
            self._in_results = True
        elif tag == "li" and self._in_results:
            self.results.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "ul":
            self._in_results = False

    def handle_data(self, data: str) -> None:
        if self._in_results and self.results:
            self.results[-1] += data

    def having(self, css_class: str) -> list[dict[str, str]]:
        return [a for _, a in self.elements if css_class in a.get("class", "").split()]


def value(text: str) -> Any:
    return json.loads(text)  # "null", "true", numbers as Python wrote them


def test_the_first_chart_plots_the_test_scores_and_interval_of_summary_json(
    runs, tmp_path: Path
) -> None:
    good, flat, cut = runs
    result = report("--last", "3", "--format", "html")  # the README's own example: a listing
    assert result.exit_code == 0
    page = result.stdout
    assert page.index('<figure id="chart-test">') < page.index('<figure id="chart-best">')
    parsed = Page(page)
    groups = {g["data-run"]: g for g in parsed.having("test-result")}
    assert list(groups) == [cut.name, flat.name, good.name]  # newest first, as the listing
    for run in (good, flat):
        s = json.loads((run / "summary.json").read_text())
        g, imp = groups[run.name], s["improvement"]
        assert value(g["data-winner-test"]) == s["best"]["test"]
        assert value(g["data-seed-test"]) == s["best_seed"]["test"]
        for key in ("delta", "ci-low", "ci-high", "ci-level", "n", "p-value", "significant"):
            field = {"delta": "test_delta"}.get(key, key.replace("-", "_"))
            assert value(g[f"data-{key}"]) == imp.get(field), (run.name, key)
    good_summary = json.loads((good / "summary.json").read_text())
    assert groups[good.name]["class"] == "test-result significant"
    assert groups[flat.name]["class"] == "test-result unknown"  # written without a verdict
    assert groups[cut.name]["data-winner-test"] == "null"
    # the whisker is the improvement's interval drawn from the seed's score
    seed_test = good_summary["best_seed"]["test"]
    flat_whisker, whisker = parsed.having("whisker")  # in the groups' order; cut has none
    assert float(whisker["data-low-score"]) == pytest.approx(
        seed_test + good_summary["improvement"]["ci_low"]
    )
    assert float(whisker["data-high-score"]) == pytest.approx(
        min(1.0, seed_test + good_summary["improvement"]["ci_high"])
    )
    flat_seed = json.loads((flat / "summary.json").read_text())["best_seed"]["test"]
    assert float(flat_whisker["data-low-score"]) == pytest.approx(flat_seed)
    winners = [float(c["data-score"]) for c in parsed.having("winner-test")]
    assert good_summary["best"]["test"] in winners
    # under the chart, each finished run's result in the words of the other formats
    imp = Improvement.from_json(good_summary["improvement"])
    line = result_line(good_summary["best"]["test"], seed_test, imp)
    assert f"{good.name}: {line}" in parsed.results
    assert line.endswith("significant at 95% (p < 0.001)")
    assert re.search(r">\+100\.0 pts · significant</text>", page)
    assert re.search(r">no result yet \(interrupted\)</text>", page)


def test_a_listing_shows_fixed_and_broken_test_examples_too(runs, tmp_path: Path) -> None:
    good, flat, cut = runs
    page = report("--format", "html").stdout
    tests = [e for e in lines(good / "evaluations.jsonl") if e["split"] == "test"]
    s = json.loads((good / "summary.json").read_text())
    best = {e["example_id"]: e["score"] for e in tests if e["candidate_id"] == s["best"]["id"]}
    seed = {e["example_id"]: e["score"] for e in tests if e["candidate_id"] == s["best_seed"]["id"]}
    fixed = sum(1 for x in best if best[x] > seed[x])
    broken = sum(1 for x in best if best[x] < seed[x])
    section = page[page.index(good.name + " <span") :]
    assert (
        f"<h4>Test examples</h4><p>n={len(best)}: the winner fixed <strong>{fixed}</strong>, "
        f"broke <strong>{broken}</strong>" in section
    )


def test_a_long_listing_reads_the_test_answers_of_its_newest_runs_only(
    runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, flat, cut = runs
    monkeypatch.setattr(collect, "ANSWERS_LISTED", 2)  # cut and flat; good is the third
    (good / "evaluations.jsonl").write_text('{"split": "test", corrupt\n')
    result = report("--format", "html")
    assert result.exit_code == 0
    assert "evaluations.jsonl" not in result.stderr  # the corrupt line was never read
    assert (
        f"Test examples: not read for runs beyond the newest 2 of a listing; opro report "
        f"{good.name} shows them." in result.stdout
    )


def test_terminal_and_markdown_details_lead_with_the_same_test_result(runs, tmp_path: Path) -> None:
    good, flat, _ = runs
    chosen = collect_report(tmp_path / "runs", [good, flat])
    expected = []
    for run in (good, flat):
        s = json.loads((run / "summary.json").read_text())
        imp = Improvement.from_json(s["improvement"])
        expected.append(
            f"{run.name}: " + result_line(s["best"]["test"], s["best_seed"]["test"], imp)
        )
    text = text_of(render_report(chosen), width=400).splitlines()
    assert text[:2] == expected
    markdown = render_markdown(chosen).splitlines()
    assert markdown[2:4] == [f"**{escape(line)}**  " for line in expected]
    rendered = markdown_html("\n".join(markdown))
    assert expected[0].replace("<", "&lt;") in rendered


def test_a_markdown_listing_leads_with_the_newest_finished_result(runs, tmp_path: Path) -> None:
    good, flat, cut = runs
    markdown = render_markdown(collect_report(tmp_path / "runs")).splitlines()
    s = json.loads((flat / "summary.json").read_text())
    line = result_line(
        s["best"]["test"], s["best_seed"]["test"], Improvement.from_json(s["improvement"])
    )
    assert markdown[2] == f"**{escape(f'newest result, {flat.name}: {line}')}**"


def numbered(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """Every proposal new and without a magic word: all score 0 on train."""
    return f"<INS>Proposal number {params.get('seed')}.</INS>"


def test_candidates_with_the_same_score_are_spread_or_counted(
    parity_project, tmp_path: Path
) -> None:
    run = make_run(
        parity_project,
        tmp_path,
        scripts={"numbered": numbered},
        seed_prompts=[""],
        optimizer={"model": "openai/numbered", "candidates_per_step": 12},
        budget={"steps": 2},
    )
    page = Page(render_html(collect_report(tmp_path / "runs", [run])))
    points = [p for p in page.having("point")]
    assert len(points) == 1 + 12 + 12 and {float(p["data-score"]) for p in points} == {0.0}
    for step in (1, 2):
        xs = sorted(float(page_x(p)) for p in points if p["data-step"] == str(step))
        assert len(set(xs)) == 12  # side by side, not on top of each other
        assert all(p["data-overlap"] == "12" for p in points if p["data-step"] == str(step))
    counts = page.having("overlap-count")
    assert [c["data-count"] for c in counts] == ["12", "12"]  # too many for the lane: counted


def page_x(point: dict[str, str]) -> str:
    return point.get("cx") or str(float(point["x"]) + 4)


@pytest.mark.slow
def test_the_html_leaderboard_fits_a_1200_px_page(parity_project, tmp_path: Path) -> None:
    found = [shutil.which(name) for name in ("chromium", "chromium-browser")]
    chromium = next((path for path in found if path), None)
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    for name in ("a-rather-long-run-name-for-the-nightly-job", "tickets-v2-with-more-data"):
        make_run(parity_project, tmp_path, name=name, budget={"steps": 1})
    html = render_html(collect_report(tmp_path / "runs"))
    html = html.replace("openai/parity", "openai/gpt-4o-mini-2024-07-18-finetuned")
    probe = (
        "<script>const t=document.querySelector('table.leaderboard');"
        "document.body.dataset.fit=[t.scrollWidth,t.parentElement.clientWidth,"
        "document.documentElement.scrollWidth,document.documentElement.clientWidth].join(' ')"
        "</script>"
    )
    page = tmp_path / "page.html"
    page.write_text(html.replace("</body>", probe + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--window-size=1200,900",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    fit = re.search(r'data-fit="([\d ]+)"', dom)
    assert fit is not None, dom[-2000:]
    table, box, page_width, window = map(int, fit.group(1).split())
    assert table <= box, "the leaderboard scrolls sideways"
    assert page_width <= window
