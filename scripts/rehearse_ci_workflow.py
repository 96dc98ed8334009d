"""Rehearse the GitHub Actions workflow of docs/ci.md on this machine.

Runs the workflow's ``run:`` steps in order in a checkout, as GitHub would: a step runs with
``bash -e``, a failed step skips the rest except those marked ``if: always()``. Steps that use an
action (checkout, setup-python, cache, upload) are skipped and named. The environment is the
job's, with ``${{ github.workspace }}`` set to the checkout, ``GITHUB_STEP_SUMMARY`` pointing at
``step_summary.md`` there, and a planted fake ``OPENAI_API_KEY``; afterwards the script checks
that the key appears in no file the job wrote.

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
    (workflow,) = [b for lang, b in re.findall(r"```(\w*)\n(.*?)```", text, re.S) if lang == "yaml"]
    return yaml.safe_load(workflow)["jobs"]["optimize"]


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
    for step in job["steps"]:
        name = step.get("name", step.get("uses"))
        if "run" not in step:
            print(f"== skipped (an action, GitHub only): {name}", flush=True)
            continue
        if failed and step.get("if") != "always()":
            print(f"== skipped (an earlier step failed): {name}", flush=True)
            continue
        print(f"== {name}", flush=True)
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]], cwd=checkout, env=env, stdin=subprocess.DEVNULL
        )
        print(f"== {name}: exit {done.returncode}", flush=True)
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
    print(f"== the planted key appears in: {', '.join(leaks) if leaks else 'no file'}")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
