"""The model seam: litellm stays behind one module, imported only when a model is called."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import fakes
import pytest
from scripted_client import ScriptedClient

from opro_cli.app import execute, prepare
from opro_cli.export import _gguf_path

PACKAGE = Path(__file__).resolve().parent.parent / "opro_cli"
LOCAL = "local/smollm2-135m-instruct"

# Runs the opro command given as arguments, then says whether litellm was imported.
PROBE = """
import sys
from opro_cli.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print("imported litellm:", "litellm" in sys.modules, "exit:", code)
"""

pytestmark = pytest.mark.slow


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module an ``import`` statement in the file names, at any depth (lazy ones too),
    except under ``if TYPE_CHECKING:`` (never run)."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    nodes: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            stack.extend(node.orelse)
            continue
        nodes.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return nodes


def run_opro(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def test_one_module_imports_litellm() -> None:
    importers = sorted(
        module_name(path)
        for path in PACKAGE.rglob("*.py")
        if any(name.split(".")[0] == "litellm" for name in imports_of(path))
    )
    assert importers == ["opro_cli.models.litellm_client"]


def test_the_package_has_no_import_cycle() -> None:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    edges = {
        name: {imported for imported in imports_of(path) if imported in modules} - {name}
        for name, path in modules.items()
    }

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(edges[node]):
                if nxt == start:
                    return [*path, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [cycle for name in sorted(modules) if (cycle := cycle_from(name))]
    assert cycles == []


def test_importing_every_module_leaves_litellm_unimported(tmp_path: Path) -> None:
    code = (
        "import importlib, pkgutil, sys, opro_cli\n"
        "for m in pkgutil.walk_packages(opro_cli.__path__, 'opro_cli.'):\n"
        "    if m.name != 'opro_cli.__main__':\n"
        "        importlib.import_module(m.name)\n"
        "print('litellm' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_doctor_finds_and_loads_the_local_model_without_litellm(tmp_path: Path) -> None:
    assert run_opro("doctor", cwd=tmp_path) == "imported litellm: False exit: 0"


def test_promptfoo_export_finds_the_gguf_file_and_report_reads_the_run_without_litellm(
    parity_project, tmp_path: Path
) -> None:
    scripts = {"smollm2-135m-instruct": fakes.parity_scorer, "proposer": fakes.proposer}
    spec = parity_project(scorer={"model": LOCAL}, budget={"steps": 1})
    run = execute(prepare(spec), runs_dir=tmp_path / "runs", client=ScriptedClient(scripts)).run_dir
    out = tmp_path / "promptfooconfig.yaml"

    said = run_opro("export", str(run), "-f", "promptfoo", "-o", str(out), cwd=tmp_path)

    assert said == "imported litellm: False exit: 0"
    path = _gguf_path("smollm2-135m-instruct")
    assert f"llama-server -m {path} --port 8080" in out.read_text()
    said = run_opro("report", "--runs-dir", str(run.parent), run.name, cwd=tmp_path)
    assert said == "imported litellm: False exit: 0"
