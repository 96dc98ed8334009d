"""Rehearse the GitHub Actions workflow of docs/ci.md on this machine.

Runs the workflow's ``run:`` steps in order in a checkout, as GitHub would: a step runs with
``bash -e``, a failed step skips the rest except those marked ``if: always()``, and a step's
``if: steps.ID.outputs.NAME == 'VALUE'`` is decided from what step ``ID`` wrote to
``$GITHUB_OUTPUT``. Steps that use an action (checkout, setup-python, cache, create-pull-request,
upload) are not run: the script names them and says whether their ``if:`` held. The environment
is the job's, with ``${{ github.workspace }}`` set to the checkout, ``GITHUB_STEP_SUMMARY``
pointing at ``step_summary.md`` there, and a planted fake ``OPENAI_API_KEY``; afterwards the
script checks that the key appears in no file the job wrote, and prints ``git status`` (what a
pull request would commit).

The workflow calls OpenAI models. To rehearse it offline, serve any model behind an
OpenAI-compatible API and point LiteLLM at it with ``OPENAI_API_BASE``, for example the embedded
model through llama-cpp-python's server (``pip install 'llama-cpp-python[server]'``)::

    python -m llama_cpp.server --model PATH/TO/SmolLM2-135M-Instruct.Q4_1.gguf --port 8080 &
    git clone . /tmp/opro-ci && OPENAI_API_BASE=http://127.0.0.1:8080/v1 \\
        python scripts/rehearse_ci_workflow.py /tmp/opro-ci

Its "Install opro" step runs ``pip install .`` in the Python that runs this script: use a
virtual environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

PLANTED_KEY = "sk-planted-rehearsal-key-5b0c9e1d7a"


def workflow_job(checkout: Path) -> dict:
    text = (checkout / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, re.S)
    (workflow,) = [b for lang, b in blocks if lang == "yaml" and "jobs:" in b]
    return yaml.safe_load(workflow)["jobs"]["optimize"]


STEP_OUTPUT = re.compile(r"^steps\.([\w-]+)\.outputs\.([\w-]+) == '([^']*)'$")


def condition_holds(
    condition: str | None, failed: bool, outputs: dict[str, dict[str, str]]
) -> bool:
    """GitHub's ``if:`` for the forms the workflow uses (default: success so far)."""
    if condition == "always()":
        return True
    if failed:
        return False
    if condition is None:
        return True
    found = STEP_OUTPUT.match(condition.strip())
    if found is None:
        raise SystemExit(f"cannot rehearse the condition: {condition}")
    step, name, value = found.groups()
    return outputs.get(step, {}).get(name) == value


def read_outputs(path: Path) -> dict[str, str]:
    """``name=value`` lines of a step's ``$GITHUB_OUTPUT`` file."""
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name: value for name, value in pairs}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    checkout = Path(sys.argv[1]).resolve()
    job = workflow_job(checkout)
    env = dict(os.environ, CI="true", GITHUB_WORKSPACE=str(checkout))
    env["GITHUB_STEP_SUMMARY"] = str(checkout / "step_summary.md")
    for name, value in job.get("env", {}).items():
        env[name] = str(value).replace("${{ github.workspace }}", str(checkout))
    env["OPENAI_API_KEY"] = PLANTED_KEY  # in place of the repository secret
    failed = False
    outputs: dict[str, dict[str, str]] = {}
    for number, step in enumerate(job["steps"]):
        name = step.get("name", step.get("uses"))
        holds = condition_holds(step.get("if"), failed, outputs)
        if "run" not in step:
            would = "would run" if holds else "would be skipped"
            print(f"== not run (an action, GitHub only; it {would}): {name}", flush=True)
            continue
        if not holds:
            print(f"== skipped ({step.get('if') or 'an earlier step failed'}): {name}", flush=True)
            continue
        print(f"== {name}", flush=True)
        output_file = checkout / f".github-output-{number}"
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=checkout,
            env=dict(env, GITHUB_OUTPUT=str(output_file)),
            stdin=subprocess.DEVNULL,
        )
        if "id" in step:
            outputs[step["id"]] = read_outputs(output_file)
        output_file.unlink(missing_ok=True)
        shown = f", outputs {outputs[step['id']]}" if "id" in step else ""
        print(f"== {name}: exit {done.returncode}{shown}", flush=True)
        failed = failed or done.returncode != 0
    # the files the job wrote: everything git does not track (ignored files included)
    written = (
        subprocess.run(
            ["git", "ls-files", "--others", "-z"], cwd=checkout, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    leaks = [
        name for name in written if name and PLANTED_KEY.encode() in (checkout / name).read_bytes()
    ]
    print(f"== the job wrote {len([n for n in written if n])} files")
    changed = subprocess.run(
        ["git", "status", "--short", "--untracked-files=no"],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(f"== tracked files changed (what the pull request would commit): {changed or 'none'}")
    print(f"== the planted key appears in: {', '.join(leaks) if leaks else 'no file'}")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
