"""Open an `opro report --format html` page in headless Chromium and save a screenshot.

    python scripts/screenshot_report.py REPORT.html OUT.png      # screenshot a report you made
    python scripts/screenshot_report.py --runs-dir runs --last 3 docs/report-screenshot.png
    python scripts/screenshot_report.py --demo OUT.png

``--runs-dir DIR`` renders the listing of the newest ``--last`` runs there, as
``opro report --last N --format html`` does, and screenshots it: docs/report-screenshot.png is
made this way from a real ``opro run configs/quickstart.yaml`` (the embedded SmolLM2-135M, a tiny
local model). ``--demo`` makes three runs with the test suite's scripted models instead
(``ScriptedClient`` answering with the scripts of ``tests/fakes.py``; two finished, one marked
interrupted part-way); it needs the test extras (``pip install -e ".[test]"``) and is run from
the repository root.

Chromium: the Debian package ``chromium`` (``apt-get install chromium``), or ``--chromium PATH``.
It runs with a fresh profile, no sandbox, no GPU and no background networking; the page itself
needs no network. After the shot, the script counts the pixels painted in each run's chart colour
and fails when a chart is missing, so a blank page never passes for a screenshot; and it measures
the page in Chromium at the window's width and fails when the leaderboard scrolls sideways.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections import Counter
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--no-first-run",
)


def find_chromium(given: str | None = None) -> str | None:
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(
    html: Path, png: Path, *, chromium: str, size: tuple[int, int] = (1200, 1400)
) -> None:
    """Render ``html`` in headless Chromium and write a ``size`` PNG to ``png``."""
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="opro-chromium-") as profile:
        command = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png.resolve()}",
            f"--window-size={size[0]},{size[1]}",
            html.resolve().as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not png.is_file():
        raise SystemExit(f"chromium failed (exit {result.returncode}):\n{result.stderr[-2000:]}")


def check_layout(html: Path, *, chromium: str, width: int) -> tuple[int, int]:
    """The leaderboard's width and the width it has, measured by Chromium in a copy of the page
    with a small script added (the report itself has none); fails when it does not fit."""
    probe = (
        "<script>const t=document.querySelector('table.leaderboard');"
        "document.body.dataset.fit=t?[t.scrollWidth,t.parentElement.clientWidth].join(' '):'0 0'"
        "</script>"
    )
    with tempfile.TemporaryDirectory(prefix="opro-chromium-") as folder:
        page = Path(folder) / "probe.html"
        page.write_text(html.read_text(encoding="utf-8").replace("</body>", probe + "</body>"))
        command = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={Path(folder) / 'profile'}",
            f"--window-size={width},900",
            "--dump-dom",
            page.as_uri(),
        ]
        dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'data-fit="(\d+) (\d+)"', dom)
    if found is None:
        raise SystemExit("chromium did not measure the page")
    table, room = int(found.group(1)), int(found.group(2))
    if table > room:
        raise SystemExit(f"{html}: the leaderboard is {table} px wide in {room} px at {width} px")
    return table, room


def read_png(path: Path) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and pixel rows of an 8-bit, non-interlaced RGB(A) PNG
    (what Chromium writes): enough to count colours without an imaging library."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or color_type not in (2, 6) or interlace:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {color_type})")
    bpp = 4 if color_type == 6 else 3
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = previous[i], previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, bpp, rows


def color_counts(png: Path, colors: list[str]) -> dict[str, int]:
    """How many pixels of the screenshot have exactly each ``#rrggbb`` colour."""
    width, _, bpp, rows = read_png(png)
    wanted = {bytes.fromhex(c.lstrip("#")): c for c in colors}
    seen: Counter[bytes] = Counter()
    for row in rows:
        for x in range(0, width * bpp, bpp):
            pixel = row[x : x + 3]
            if pixel in wanted:
                seen[pixel] += 1
    return {wanted[p]: seen[p] for p in wanted}


def check_charts(png: Path, runs: int, minimum: int = 150) -> dict[str, int]:
    """Each of the first ``runs`` palette colours must cover ``minimum`` pixels (its lines and
    points in the two charts)."""
    from opro_cli.report.render_html import color

    counts = color_counts(png, [color(i) for i in range(runs)])
    missing = [c for c, n in counts.items() if n < minimum]
    if missing:
        raise SystemExit(f"{png}: charts not rendered (colour pixels: {counts})")
    return counts


def make_demo(folder: Path) -> Path:
    """Three runs with the scripted models; the last one cut short and marked interrupted."""
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "tests"))
    import yaml
    from conftest import parity_spec, write_jsonl
    from fakes import SCRIPTS, parity_rows
    from scripted_client import ScriptedClient

    from opro_cli.app import execute, prepare

    models = {"scorer": {"model": "scripted/parity"}, "optimizer": {"model": "scripted/proposer"}}
    write_jsonl(folder / "data.jsonl", parity_rows(40))
    runs = folder / "runs"
    variants = [
        {"name": "parity", "seed": 11, "budget": {"steps": 4}},
        {"name": "parity-seed2", "seed": 2, "budget": {"steps": 8}},
        {"name": "parity-cut", "seed": 5, "budget": {"steps": 6}},
    ]
    last = None
    for variant in variants:
        spec = folder / f"{variant['name']}.yaml"
        spec.write_text(yaml.safe_dump(parity_spec(**models, **variant), sort_keys=False))
        last = execute(prepare(spec), runs_dir=runs, client=ScriptedClient(SCRIPTS))
    assert last is not None
    interrupt(last.run_dir, keep_steps=4)
    return runs


def interrupt(run: Path, keep_steps: int) -> None:
    """Make a finished run look stopped after ``keep_steps`` steps (Ctrl-C)."""
    steps = (run / "steps.jsonl").read_text().splitlines(keepends=True)[:keep_steps]
    (run / "steps.jsonl").write_text("".join(steps))
    kept = len(steps) - 1
    candidates = [
        line
        for line in (run / "candidates.jsonl").read_text().splitlines(keepends=True)
        if json.loads(line)["step"] <= kept
    ]
    (run / "candidates.jsonl").write_text("".join(candidates))
    for name in ("summary.json", "best_prompt.txt"):
        (run / name).unlink()
    manifest = json.loads((run / "manifest.json").read_text())
    manifest.update(status="interrupted", reason="stopped by Ctrl-C")
    (run / "manifest.json").write_text(json.dumps(manifest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", type=Path, help="the report page")
    parser.add_argument("png", type=Path, help="where to write the screenshot")
    parser.add_argument("--demo", action="store_true", help="make demo runs and their report")
    parser.add_argument("--runs-dir", type=Path, help="screenshot the listing of these runs")
    parser.add_argument("--last", type=int, default=3, help="with --runs-dir: the newest N")
    parser.add_argument("--chromium", help="the Chromium executable (default: found on PATH)")
    parser.add_argument("--size", default="1200,1400", help="window size WIDTH,HEIGHT")
    parser.add_argument("--runs", type=int, default=None, help="charted runs to check (demo: 3)")
    args = parser.parse_args()
    chromium = find_chromium(args.chromium)
    if chromium is None:
        raise SystemExit("no Chromium found: apt-get install chromium, or pass --chromium PATH")
    width, height = (int(v) for v in args.size.split(","))
    with tempfile.TemporaryDirectory(prefix="opro-report-demo-") as tmp:
        html = args.html
        runs = args.runs
        if args.demo or args.runs_dir is not None:
            from opro_cli.report.collect import collect_report
            from opro_cli.report.reader import RunFilter
            from opro_cli.report.render_html import render_html

            if args.demo:
                runs_dir = make_demo(Path(tmp))
                report = collect_report(runs_dir, sorted(runs_dir.iterdir()))
            else:
                last = RunFilter(last=args.last)
                report = collect_report(args.runs_dir, run_filter=last, charts=True)
            html = Path(tmp) / "report.html"
            html.write_text(render_html(report), encoding="utf-8")
            runs = len(report.views)
        if html is None:
            parser.error("give REPORT.html, --runs-dir DIR or --demo")
        screenshot(html, args.png, chromium=chromium, size=(width, height))
        counts = check_charts(args.png, runs) if runs else {}
        table, room = check_layout(html, chromium=chromium, width=width)
    print(
        f"wrote {args.png} ({args.png.stat().st_size // 1024} KB); chart pixels: {counts}; "
        f"leaderboard {table} px in {room} px"
    )


if __name__ == "__main__":
    main()
