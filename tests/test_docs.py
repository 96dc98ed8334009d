"""Every ``opro`` command shown in the README and in docs/ci.md names a real command and real
options (the workflow's ``run:`` scripts included)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from opro_cli.cli import app

ROOT = Path(__file__).parent.parent
DOCS = ("README.md", "docs/ci.md")
FENCE_RE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE_RE = re.compile(r"`(opro [^`]+)`")
SHELL_STOP = {">", ">>", "|", "&&", "||", ";", "2>&1"}


def opro_commands(text: str) -> list[str]:
    """Command lines starting with ``opro`` in shell and YAML code blocks and inline code."""
    found = [m.group(1).replace("\\|", "|") for m in INLINE_RE.finditer(text)]
    for lang, body in FENCE_RE.findall(text):
        if lang == "yaml" and "jobs:" in body:
            scripts = [
                step["run"]
                for job in yaml.safe_load(body)["jobs"].values()
                for step in job["steps"]
                if "run" in step
            ]
        elif lang == "console":  # commands after "$ ", the rest is output
            scripts = [line for line in body.splitlines() if line.startswith("$ ")]
        elif lang in ("bash", "sh", ""):
            scripts = [body]
        else:
            continue
        for script in scripts:
            for line in script.splitlines():
                line = line.strip().removeprefix("$ ").removeprefix("exec ")
                if line.startswith("opro "):
                    found.append(line)
    return found


def check(line: str, root: Any) -> None:
    """Fail unless ``line`` names real (sub)commands and options. Typer's commands are click
    commands (its own copy of click): groups have ``get_command``, options have ``opts``."""
    words = []
    for word in shlex.split(line, comments=True)[1:]:
        if word in SHELL_STOP:
            break
        words.append(word)
    command = root
    ctx = root.make_context("opro", [], resilient_parsing=True)
    while hasattr(command, "get_command"):
        while words and words[0].startswith("-"):
            assert words[0] in _option_names(command), f"{line}: no option {words[0]}"
            words = words[1:]
        if not words or words[0].isupper() or words[0] == "...":
            return  # a placeholder such as COMMAND
        sub = command.get_command(ctx, words[0])
        assert sub is not None, f"{line}: no command '{words[0]}'"
        command, words = sub, words[1:]
    for word in words:
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            assert name in _option_names(command), f"{line}: no option {name}"


def _option_names(command: Any) -> set[str]:
    names = {"--help"}
    for param in command.params:
        if param.param_type_name == "option":
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


@pytest.mark.parametrize("doc", DOCS)
def test_documented_commands_exist(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    commands = opro_commands(text)
    assert commands
    root = typer.main.get_command(app)
    for line in commands:
        check(line, root)


def test_the_ci_workflow_promotes_opens_a_pull_request_caches_and_uploads() -> None:
    from opro_cli.spec import load_spec

    text = (ROOT / "docs/ci.md").read_text(encoding="utf-8")
    (workflow,) = [b for lang, b in FENCE_RE.findall(text) if lang == "yaml" and "jobs:" in b]
    document = yaml.safe_load(workflow)
    job = document["jobs"]["optimize"]
    steps = job["steps"]
    uses = {step.get("uses", "").split("@")[0]: step for step in steps}
    assert "actions/cache/restore" in uses and "actions/cache/save" in uses
    assert "actions/upload-artifact" in uses
    for cache in (uses["actions/cache/restore"], uses["actions/cache/save"]):
        assert cache["with"]["key"].endswith("-${{ github.run_id }}-${{ github.run_attempt }}")
    assert (
        document["concurrency"]["group"] and document["concurrency"]["cancel-in-progress"] is False
    )
    runs = " ".join(step.get("run", "") for step in steps)
    for needle in ("--dry-run", "--json", "opro promote", "--to prompts/tickets.txt"):
        assert needle in runs
    # the pull request is opened only when promote wrote the winner (exit 0)
    (promote,) = [step for step in steps if step.get("id") == "promote"]
    assert 'echo "promoted=true" >> "$GITHUB_OUTPUT"' in promote["run"]
    pull_request = uses["peter-evans/create-pull-request"]
    assert pull_request["if"] == "steps.promote.outputs.promoted == 'true'"
    assert pull_request["with"]["add-paths"] == "prompts/tickets.txt"
    assert pull_request["with"]["body-path"] == "pr-body.md"
    assert document["permissions"] == {"contents": "write", "pull-requests": "write"}
    # the file promoted is the production seed of the spec the workflow optimizes
    production = load_spec(ROOT / "configs" / "tickets.yaml").production_seed
    assert production is not None and production.file == str(ROOT / "prompts" / "tickets.txt")
    assert "OPRO_CACHE_DIR" in job["env"]
    assert job["env"]["OPENAI_API_KEY"] == "${{ secrets.OPENAI_API_KEY }}"


def test_the_check_catches_a_made_up_option() -> None:
    root = typer.main.get_command(app)
    check("opro run spec.yaml --fail-under 0.9", root)
    with pytest.raises(AssertionError, match="no option --fail-below"):
        check("opro run spec.yaml --fail-below 0.9", root)
    with pytest.raises(AssertionError, match="no command 'optimise'"):
        check("opro optimise spec.yaml", root)
