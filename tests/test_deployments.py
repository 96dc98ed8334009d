"""A model served by several deployments: the spec's ``deployments``, calls spread by LiteLLM's
Router with each deployment's parallel limit, fail-over when one goes down, and the record of
which deployment answered."""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openai_server import OpenAIServer, RecordedRequest, scripted, slow
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.models.base import CallParams, Deployment
from opro_cli.models.routing import missing_keys, router_settings
from opro_cli.spec.models import ScorerSpec

runner = CliRunner()
K = 3  # the parallel calls each deployment takes


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def three_servers(test_models: Any) -> Iterator[list[OpenAIServer]]:
    servers = [OpenAIServer().start() for _ in range(3)]
    for server in servers:
        server.responder = functools.partial(scripted, test_models.scripts)
    yield servers
    for server in servers:
        server.stop()


def deployments_of(servers: list[OpenAIServer]) -> list[dict[str, Any]]:
    return [
        {"name": f"gpu-{i}", "api_base": s.base_url, "max_parallel": K}
        for i, s in enumerate(servers)
    ]


def test_calls_spread_over_the_deployments_and_one_going_down_loses_nothing(
    parity_project: Any, three_servers: list[OpenAIServer], tmp_path: Path
) -> None:
    down = three_servers[2]
    stopped = threading.Event()
    answered_before_stop = 0

    def answer_then_stop(request: RecordedRequest) -> Any:
        """Answer slowly enough that calls overlap; after 30 answers, stop gpu-2 (from another
        thread: a handler cannot wait for its own server to shut down)."""
        nonlocal answered_before_stop
        behaviour = scripted_answer(request)
        answered_before_stop += 1
        if answered_before_stop == 30:
            threading.Thread(target=lambda: (down.stop(), stopped.set())).start()
        return behaviour

    scripted_answer = three_servers[0].responder
    assert scripted_answer is not None
    for server in three_servers:
        server.responder = lambda request: slow(0.01, answer_then_stop(request))
    spec = parity_project(
        scorer={
            "model": "openai/parity",
            "max_retries": 4,
            "timeout_s": 5.0,
            "deployments": deployments_of(three_servers),
        },
        concurrency=12,
        budget={"steps": 2},
    )
    result = runner.invoke(app, ["run", str(spec), "--quiet", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert stopped.is_set()
    (run,) = (tmp_path / "runs").iterdir()

    evaluations = jsonl(run / "evaluations.jsonl")
    assert evaluations and all(e["error"] is None for e in evaluations)  # every call answered
    by = Counter(e["deployment"] for e in evaluations)
    assert set(by) <= {"gpu-0", "gpu-1", "gpu-2"}
    assert by["gpu-0"] > 0 and by["gpu-1"] > 0  # spread over the live ones
    assert by["gpu-2"] < by["gpu-0"] + by["gpu-1"]  # down after its first answers
    for server in three_servers:
        assert server.max_in_flight <= K  # no deployment got more than its limit at once
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["deployments"] == {"scorer": ["gpu-0", "gpu-1", "gpu-2"]}
    assert "deployments" in (run / "config.yaml").read_text()


def test_a_deployment_key_comes_from_the_variable_it_names_and_never_lands_in_the_run(
    parity_project: Any,
    three_servers: list[OpenAIServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "sk-deploy-Q7wE9rT2yU4iO6pA8sD0"
    monkeypatch.setenv("GPU_KEY", key)
    deployments = [{**d, "api_key_env": "GPU_KEY"} for d in deployments_of(three_servers[:2])]
    spec = parity_project(scorer={"model": "openai/parity", "deployments": deployments})
    result = runner.invoke(app, ["run", str(spec), "--quiet", "--no-cache"])
    assert result.exit_code == 0, result.output
    sent = [r for s in three_servers[:2] for r in s.requests]
    assert sent and all(r.headers.get("authorization") == f"Bearer {key}" for r in sent)
    (run,) = (tmp_path / "runs").iterdir()
    for path in run.iterdir():
        if path.is_file():
            assert key not in path.read_text(errors="replace"), path.name


def test_a_missing_deployment_key_stops_the_run_before_any_call(
    parity_project: Any, three_servers: list[OpenAIServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GPU_KEY", raising=False)
    deployments = [{**d, "api_key_env": "GPU_KEY"} for d in deployments_of(three_servers)]
    spec = parity_project(scorer={"model": "openai/parity", "deployments": deployments})
    result = runner.invoke(app, ["run", str(spec), "--quiet", "--no-cache"])
    assert result.exit_code == 3, result.output
    assert "GPU_KEY" in result.output
    assert all(not s.requests for s in three_servers)


@pytest.mark.parametrize(
    ("scorer", "says"),
    [
        (
            {"api_base": "http://a/v1", "deployments": [{"api_base": "http://b/v1"}]},
            "api_base and deployments both set",
        ),
        (
            {"deployments": [{"api_base": "http://b/v1"}, {"api_base": "http://b/v1"}]},
            "http://b/v1 listed twice",
        ),
        (
            {"deployments": [{"api_base": "http://b/v1", "api_key_env": "sk-live-abc"}]},
            "api_key_env names an environment variable",
        ),
        ({"deployments": [{"api_base": "http://b/v1", "max_parallel": 0}]}, "max_parallel"),
        ({"deployments": [{"url": "http://b/v1"}]}, "url"),
    ],
)
def test_bad_deployments_are_refused_with_the_field_and_the_fix(
    tmp_path: Path, scorer: dict[str, Any], says: str
) -> None:
    (tmp_path / "data.jsonl").write_text('{"text": "a", "label": "b"}\n')
    spec = {
        "name": "d",
        "dataset": {"path": "data.jsonl", "input": "text", "target": "label"},
        "scorer": {"model": "openai/m", **scorer},
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = runner.invoke(app, ["run", str(tmp_path / "spec.yaml"), "--dry-run"])
    assert result.exit_code == 2, result.output
    assert "scorer" in result.output and says in result.output
    assert "sk-live-abc" not in result.output
    assert "Traceback" not in result.output


def test_router_settings_carry_each_deployments_limits() -> None:
    params = ScorerSpec(
        model="openai/m",
        deployments=[
            {"api_base": "http://a/v1", "max_parallel": 4, "weight": 2},
            {"api_base": "http://b/v1", "name": "b", "model": "hosted_vllm/m", "rpm": 60},
        ],
    ).call_params()
    settings = router_settings(params, environ={})
    first, second = settings["model_list"]
    assert first == {
        "model_name": "openai/m",
        "litellm_params": {
            "model": "openai/m",
            "api_base": "http://a/v1",
            "max_parallel_requests": 4,
            "weight": 2.0,
        },
        "model_info": {"id": "http://a/v1"},
    }
    assert second["litellm_params"]["model"] == "hosted_vllm/m"
    assert second["litellm_params"]["rpm"] == 60
    assert second["model_info"] == {"id": "b"}
    assert settings["routing_strategy"] == "usage-based-routing-v2"  # an rpm limit is kept
    assert settings["num_retries"] == 0  # one retry policy: the client's
    assert params.parallel_limit is None  # b has no max_parallel: no limit over both


def test_missing_keys_names_each_unset_variable_once() -> None:
    params = CallParams(
        model="openai/m",
        deployments=(
            Deployment("a", "http://a/v1", api_key_env="A_KEY"),
            Deployment("b", "http://b/v1", api_key_env="A_KEY"),
            Deployment("c", "http://c/v1", api_key_env="C_KEY"),
            Deployment("d", "http://d/v1"),
        ),
    )
    assert missing_keys(params, environ={"C_KEY": "x"}) == ("A_KEY",)
    assert CallParams(model="openai/m", deployments=params.deployments[:1]).parallel_limit is None


def test_routing_leaves_unknown_prices_unknown_and_known_ones_as_they_were(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Building a Router writes its models into LiteLLM's price list with no price, which makes
    LiteLLM price an unpriced model at $0: opro undoes it, so unknown stays None."""
    import asyncio

    from openai_server import ok

    from opro_cli.models.litellm_client import LiteLLMClient, estimate_cost

    monkeypatch.setenv("OPENAI_API_KEY", "sk-loopback-test")
    answer = ok("yes", prompt_tokens=1000, completion_tokens=1000)
    with OpenAIServer(default=answer) as server:
        client = LiteLLMClient(2)

        async def cost_of(model: str) -> tuple[float | None, str | None]:
            params = CallParams(model=model, deployments=(Deployment("d0", server.base_url),))
            done = await client.complete([{"role": "user", "content": "hi"}], params)
            return done.cost_usd, done.deployment

        priced = estimate_cost("openai/gpt-4o-mini", 1000, 1000)
        assert asyncio.run(cost_of("openai/unpriced-model")) == (None, "d0")
        assert estimate_cost("openai/unpriced-model", 1000, 1000) is None
        assert priced is not None and priced > 0
        assert asyncio.run(cost_of("openai/gpt-4o-mini")) == (pytest.approx(priced), "d0")


def test_the_dry_run_says_how_calls_are_spread(
    parity_project: Any, three_servers: list[OpenAIServer]
) -> None:
    spec = parity_project(
        scorer={"model": "openai/parity", "deployments": deployments_of(three_servers)}
    )
    result = runner.invoke(app, ["run", str(spec), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert (
        "scorer openai/parity: spread over 3 deployments (gpu-0, gpu-1, gpu-2), "
        f"at most {3 * K} calls at once"
    ) in result.output
    assert "optimizer openai/proposer: spread" not in result.output
    assert all(not s.requests for s in three_servers)
