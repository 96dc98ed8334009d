"""opro report's four formats, checked against the run files they were made from."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from rich.console import Console
from test_report import interrupt, lines, make_run, report

from opro_cli.cli.arguments import resolve_run
from opro_cli.formatting import result_line
from opro_cli.report.collect import collect_report
from opro_cli.report.render_html import render_html
from opro_cli.report.render_json import report_json
from opro_cli.report.render_md import render_markdown
from opro_cli.report.render_table import render_report
from opro_cli.rundir import Improvement

DOCS = Path(__file__).resolve().parent.parent / "docs"
SEED = "Answer <b>now</b> | & see https://example.com"
WINNER = "Label the parity carefully in one word."


@pytest.fixture
def two_runs(parity_project, tmp_path: Path) -> tuple[Path, Path]:
    """A finished run whose seed prompt holds markup, and an interrupted one."""
    finished = make_run(parity_project, tmp_path, seed_prompts=[SEED])
    cut = make_run(parity_project, tmp_path, name="cut", seed=12, budget={"steps": 3})
    interrupt(cut, keep_steps=3)
    return finished, cut


def summary_of(run: Path) -> dict[str, Any]:
    return json.loads((run / "summary.json").read_text())


def text_of(renderable: Any, width: int = 100) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


# --- table ----------------------------------------------------------------------------------


def test_table_listing_shows_every_column_when_wide(two_runs, tmp_path: Path) -> None:
    finished, cut = two_runs
    text = text_of(render_report(collect_report(tmp_path / "runs")), width=220)
    lead, _, header, rule, newest, older = [line for line in text.splitlines() if line.strip()][:6]
    # it leads with the newest finished run's test result, as the Markdown listing does
    s = summary_of(finished)
    imp = Improvement.from_json(s["improvement"])
    assert lead == f"newest result, {finished.name}: " + result_line(
        s["best"]["test"], s["best_seed"]["test"], imp
    )
    assert lead.startswith(f"newest result, {finished.name}: test: winner 100.0 vs seed 0.0, ")
    assert " ".join(header.split()) == (
        "run started (UTC) status scorer optimizer steps train val test seed test Δ test "
        "calls tokens cost time"
    )
    s = summary_of(finished)
    assert newest.split()[:3] == [cut.name, *newest.split()[1:3]]
    assert "interrupted" in newest and " - " in newest
    assert older.split()[3:] == [
        "completed",
        "openai/parity",
        "openai/proposer",
        "3",
        "100.0",
        "100.0",
        "100.0",
        "0.0",
        "+100.0",
        "169",
        f"{s['usage']['tokens']:,}",
        "$0",
        f"{s['duration_s']:.1f}s",
    ]


def test_table_listing_stays_readable_at_100_columns(two_runs, tmp_path: Path) -> None:
    finished, cut = two_runs
    text = text_of(render_report(collect_report(tmp_path / "runs")), width=100)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert finished.name in text and cut.name in text
    assert "…" not in text  # nothing cut off: text folds, numbers keep their width
    row = next(line for line in text.splitlines()[2:] if finished.name in line)
    assert (
        row.split()[1:]
        == ["3", "100.0", "100.0", "100.0", "0.0", "+100.0", "169"] + row.split()[8:]
    )


def test_table_details_side_by_side(two_runs, tmp_path: Path) -> None:
    finished, cut = two_runs
    text = text_of(render_report(collect_report(tmp_path / "runs", [finished, cut])), 160)
    assert re.search(r"best test\s+│\s+100\.0 │\s+- │", text)
    assert re.search(r"status\s+│\s+completed │ interrupted \(stopped by Ctrl-C\) │", text)
    assert "Test examples (n=10): the winner fixed 10, broke 0, 0 unchanged." in text
    assert f"[-{SEED}-] {{+{WINNER}+}}" in text
    assert "optimizer (winner)" in text and "optimizer (best so far)" in text
    assert "status interrupted: no summary.json yet" in text


def test_table_details_show_brackets_as_written_and_the_broken_examples(
    parity_project, tmp_path: Path
) -> None:
    """Prompts and answers are shown as written, never read as Rich markup ("[/INST]" used to
    stop the report), and an example the winner broke is listed with both answers."""
    seed = "Reply [/INST] with [label] only."
    run = make_run(parity_project, tmp_path, seed_prompts=[seed], budget={"steps": 1})
    summary = summary_of(run)
    records = lines(run / "evaluations.jsonl")
    seed_right = [
        e["example_id"]
        for e in records
        if e["split"] == "test" and e["candidate_id"] == summary["best_seed"]["id"] and e["score"]
    ]
    broken = seed_right[0]
    for e in records:
        if (e["split"], e["candidate_id"], e["example_id"]) == (
            "test",
            summary["best"]["id"],
            broken,
        ):
            e.update(score=0.0, output="[/INST] [bold]odd")
    (run / "evaluations.jsonl").write_text("".join(json.dumps(e) + "\n" for e in records))

    result = report(run.name, "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    text = text_of(render_report(collect_report(tmp_path / "runs", [run])), width=200)
    assert re.search(
        rf"│ seed\s+│\s+{summary['best_seed']['train'] * 100:.1f} │.*│ {re.escape(seed)}", text
    )
    assert f"[-{seed}-] {{+{WINNER}+}}" in text
    n = summary["improvement"]["n"]
    fixed = n - len(seed_right)
    assert (
        f"Test examples (n={n}): the winner fixed {fixed}, broke 1, {len(seed_right) - 1} "
        "unchanged." in text
    )
    block = text[text.index("broken (first 3)") :]
    assert re.search(rf"│ {broken}\s+│ even\s+│ \[/INST\] \[bold\]odd\s+│", block)

    markdown = render_markdown(collect_report(tmp_path / "runs", [run]))
    broken_table = Tables(markdown_html(markdown[markdown.index("Broken (first 3)") :])).tables[0]
    assert broken_table == [
        ["example", "seed answer", "winner answer"],
        [broken, "even", "[/INST] [bold]odd"],
    ]


# --- Markdown -------------------------------------------------------------------------------


class Tables(HTMLParser):
    """The text of every table cell, table by table, row by row."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def markdown_html(text: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)


def test_markdown_listing_renders_as_a_table_with_the_run_numbers(two_runs, tmp_path) -> None:
    finished, cut = two_runs
    text = render_markdown(collect_report(tmp_path / "runs"))
    (table,) = Tables(markdown_html(text)).tables
    assert table[0] == [
        "run",
        "started (UTC)",
        "status",
        "scorer",
        "optimizer",
        "steps",
        "train",
        "val",
        "test",
        "seed test",
        "Δ test",
        "calls",
        "tokens",
        "cost",
        "time",
    ]
    s = summary_of(finished)
    assert table[2][0] == finished.name
    assert table[2][2:] == [
        "completed",
        "openai/parity",
        "openai/proposer",
        "3",
        "100.0",
        "100.0",
        "100.0",
        "0.0",
        "+100.0",
        "169",
        f"{s['usage']['tokens']:,}",
        "$0",
        f"{s['duration_s']:.1f}s",
    ]
    steps = lines(cut / "steps.jsonl")
    assert table[1][0] == cut.name
    assert table[1][2] == "interrupted"
    assert table[1][5:10] == ["2", f"{steps[-1]['best_score'] * 100:.1f}", "-", "-", "-"]
    assert table[1][11] == str(steps[-1]["calls"])


def test_markdown_details_keep_prompts_intact_inside_tables(two_runs, tmp_path) -> None:
    finished, cut = two_runs
    text = render_markdown(collect_report(tmp_path / "runs", [finished, cut]))
    html = markdown_html(text)
    tables = Tables(html).tables
    comparison = {row[0]: row[1:] for row in tables[0]}
    assert comparison["best test"] == ["100.0", "-"]
    assert comparison["status"] == ["completed", "interrupted (stopped by Ctrl-C)"]
    curve = tables[1]
    assert curve[0][1:3] == [f"{finished.name} best", f"{finished.name} mean"]
    steps = lines(finished / "steps.jsonl")
    assert [row[1] for row in curve[1:]] == [f"{s['best_score'] * 100:.1f}" for s in steps]
    top = tables[2]
    assert all(len(row) == 7 for row in top)  # the "|" in the seed prompt stays in its cell
    seed_row = next(row for row in top if row[2] == "seed")
    assert seed_row[6] == SEED
    assert "<b>" not in html  # the markup in the prompt is shown, not rendered
    shown = SEED.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f"<blockquote>\n<p><s>{shown}</s> <strong>{WINNER}</strong></p>" in html
    assert "the winner <strong>fixed 10</strong>, <strong>broke 0</strong>" in html


# --- JSON -----------------------------------------------------------------------------------


def documented_schema() -> dict[str, Any]:
    text = (DOCS / "report-json.md").read_text()
    block = text.split("## JSON Schema", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    schema: dict[str, Any] = json.loads(block)
    return schema


def check(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "$") -> None:
    """The subset of JSON Schema the documented schema uses; no dependency needed."""
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "null": type(None),
        "integer": int,
        "number": (int, float),
    }
    if "const" in schema:
        assert value == schema["const"], where
    if "enum" in schema:
        assert value in schema["enum"], where
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(
            isinstance(value, kinds[t]) and not (t in ("integer", "number") and value is True)
            for t in types
        )
        assert ok and not (isinstance(value, bool) and "boolean" not in types), (where, value)
    if isinstance(value, dict):
        assert set(schema.get("required", [])) <= set(value), (where, sorted(value))
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check(value[key], sub, root, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            check(item, schema["items"], root, f"{where}[{index}]")
    if isinstance(value, int | float) and not isinstance(value, bool):
        assert value >= schema.get("minimum", value), where
        assert value <= schema.get("maximum", value), where


def validate(document: dict[str, Any]) -> None:
    schema = documented_schema()
    check(document, schema, schema)
    try:
        import jsonschema
    except ImportError:
        return
    jsonschema.Draft202012Validator(schema).validate(document)


def test_json_listing_and_details_validate_and_match_the_files(two_runs, tmp_path) -> None:
    finished, cut = two_runs
    listing = json.loads(report("--format", "json").stdout)
    validate(listing)
    assert (listing["detailed"], listing["details"]) == (False, [])
    assert [r["run"] for r in listing["runs"]] == [cut.name, finished.name]

    result = report(finished.name, cut.name, "--format", "json")
    document = json.loads(result.stdout)
    validate(document)
    s = summary_of(finished)
    row = document["runs"][0]
    assert row["best"] == {k: s["best"][k] for k in ("train", "val", "test")}
    assert row["seed"] == {k: s["best_seed"][k] for k in ("train", "val", "test")}
    assert row["improvement"] == s["improvement"]
    assert (row["calls"], row["tokens"], row["cost_usd"]) == (
        s["usage"]["calls"],
        s["usage"]["tokens"],
        s["usage"]["cost_usd"],
    )
    assert row["duration_s"] == s["duration_s"]
    assert row["has_summary"] is True

    detail = document["details"][0]
    assert detail["best_prompt"]["text"] == WINNER
    assert detail["seed_prompt"]["text"] == SEED
    assert [c["train"] for c in detail["candidates"]] == [
        c["train_score"] for c in lines(finished / "candidates.jsonl")
    ]
    assert [p["best"] for p in detail["curve"]] == [
        s["best_score"] for s in lines(finished / "steps.jsonl")
    ]
    assert "".join(d["text"] for d in detail["diff"] if d["op"] != "delete") == WINNER
    assert detail["test_changes"]["n"] == 10
    assert len(detail["test_changes"]["fixed"]) == 10
    assert detail["top"][0] == s["best"]["id"]

    cut_row, cut_detail = document["runs"][1], document["details"][1]
    assert (cut_row["status"], cut_row["has_summary"], cut_row["improvement"]) == (
        "interrupted",
        False,
        None,
    )
    assert cut_detail["test_changes"] is None


def test_unknown_cost_is_null_in_json_and_unknown_elsewhere(two_runs, tmp_path) -> None:
    finished, _ = two_runs
    summary = summary_of(finished)
    summary["usage"]["cost_usd"] = None  # a model whose price LiteLLM does not know
    (finished / "summary.json").write_text(json.dumps(summary))
    rep = collect_report(tmp_path / "runs", [finished])
    assert report_json(rep)["runs"][0]["cost_usd"] is None
    assert "| cost | unknown |" in render_markdown(rep)
    assert re.search(r"cost\s+│\s+unknown", text_of(render_report(rep)))
    assert "cost unknown" in render_html(rep)
    assert "$0.0000" not in render_markdown(rep)


# --- HTML -----------------------------------------------------------------------------------


class Charts(HTMLParser):
    """The chart data of the page: line series and scatter points, by run."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.series: dict[str, dict[str, str]] = {}
        self.points: dict[str, list[dict[str, str]]] = {}
        self.tags: set[str] = set()
        self._group: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = {k: v or "" for k, v in attrs}
        if a.get("class") == "series":
            self.series[a["data-run"]] = a
        elif a.get("class") == "candidates":
            self._group = a["data-run"]
            self.points[self._group] = []
        elif a.get("class") == "point" and self._group is not None:
            self.points[self._group].append(a)


def numbers(text: str) -> list[float | None]:
    return [None if v == "null" else float(v) for v in text.split()]


def test_html_holds_the_chart_data_of_every_selected_run(two_runs, tmp_path: Path) -> None:
    finished, cut = two_runs
    result = report(finished.name, cut.name, "--format", "html", "--output", "r.html")
    assert result.exit_code == 0
    page = (tmp_path / "r.html").read_text()
    charts = Charts(page)
    assert set(charts.series) == set(charts.points) == {finished.name, cut.name}
    for run in (finished, cut):
        steps = lines(run / "steps.jsonl")
        series = charts.series[run.name]
        assert numbers(series["data-steps"]) == [s["step"] for s in steps]
        assert numbers(series["data-best"]) == [s["best_score"] for s in steps]
        assert numbers(series["data-mean"]) == [
            None if s["new_candidates"] == 0 else s["mean_score"] for s in steps
        ]
        candidates = lines(run / "candidates.jsonl")
        assert [
            (p["data-id"], int(p["data-step"]), float(p["data-score"]))
            for p in charts.points[run.name]
        ] == [(c["id"], c["step"], c["train_score"]) for c in candidates]
    assert "<svg" in page and "<polyline" in page
    assert page.count('<figure id="chart-') == 3
    # self-contained: no URL, no script, nothing fetched
    assert "http://" not in page and "https://" not in page
    assert "script" not in charts.tags and "link" not in charts.tags and "img" not in charts.tags
    assert re.search(r"\b(src|href)=\"(?!#)", page) is None
    # user text is escaped
    assert "<b>now</b>" not in page
    assert "Answer &lt;b&gt;now&lt;/b&gt; | &amp; see https:&#47;&#47;example.com" in page


def test_html_listing_charts_every_listed_run_without_parsing_train_answers(
    two_runs, tmp_path: Path
) -> None:
    """A listing reads only the val and test lines of evaluations.jsonl (for fixed/broken),
    picked by their text: the train answers, the bulk of the file, are never parsed."""
    finished, cut = two_runs
    with (finished / "evaluations.jsonl").open("a") as handle:
        handle.write('{"split": "train", this would be a corrupt line\n')
    result = report("--format", "html")
    assert result.exit_code == 0
    assert "evaluations.jsonl" not in result.stderr
    charts = Charts(result.stdout)
    assert set(charts.series) == {finished.name, cut.name}
    (leaderboard,) = [t for t in Tables(result.stdout).tables if t[0][0] == "run"]
    assert [row[0] for row in leaderboard[1:]] == [cut.name, finished.name]


def test_html_escapes_hostile_run_text(parity_project, tmp_path: Path) -> None:
    hostile = '</title><script>alert("x")</script><img src=x onerror=alert(1)>'
    make_run(parity_project, tmp_path, seed_prompts=[hostile], budget={"steps": 1})
    page = render_html(
        collect_report(tmp_path / "runs", [resolve_run("-parity", tmp_path / "runs")])
    )
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
