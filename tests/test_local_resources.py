"""What the local model uses of the machine: its thread count follows the CPUs this process may
use (affinity and cgroup quota), and the response cache keys a GGUF model by its content."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opro_cli.cache import cache_key
from opro_cli.models import local
from opro_cli.models.base import CallParams
from opro_cli.models.local import cgroup_cpu_quota, model_fingerprint, usable_cpus

MESSAGES = [{"role": "user", "content": "hi"}]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="ascii")


def test_cgroup_v2_quota_is_read_in_cpus(tmp_path: Path) -> None:
    write(tmp_path / "cpu.max", "150000 100000\n")
    assert cgroup_cpu_quota(tmp_path) == 1.5
    write(tmp_path / "cpu.max", "max 100000\n")
    assert cgroup_cpu_quota(tmp_path) is None


def test_cgroup_v1_quota_is_read_and_minus_one_means_none(tmp_path: Path) -> None:
    write(tmp_path / "cpu" / "cpu.cfs_quota_us", "200000\n")
    write(tmp_path / "cpu" / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(tmp_path) == 2.0
    write(tmp_path / "cpu" / "cpu.cfs_quota_us", "-1\n")
    assert cgroup_cpu_quota(tmp_path) is None


def test_no_cgroup_files_means_no_quota(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(tmp_path) is None


def test_threads_are_capped_by_the_quota_rounded_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 128)
    assert usable_cpus(tmp_path) == 64  # affinity, not cpu_count
    write(tmp_path / "cpu.max", "250000 100000\n")
    assert usable_cpus(tmp_path) == 3
    write(tmp_path / "cpu.max", "10000 100000\n")
    assert usable_cpus(tmp_path) == 1


def test_affinity_below_the_quota_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    write(tmp_path / "cpu.max", "800000 100000\n")
    assert usable_cpus(tmp_path) == 2


def gguf(path: Path, body: bytes) -> Path:
    path.write_bytes(b"GGUF" + body)
    return path


def test_replacing_a_gguf_file_changes_the_cache_key(tmp_path: Path) -> None:
    model = gguf(tmp_path / "m.gguf", b"weights-one" * 100)
    params = CallParams(model=f"local/{model}", temperature=0.0)
    before = cache_key(MESSAGES, params)
    assert cache_key(MESSAGES, params) == before
    gguf(model, b"weights-two" * 100)  # same path, same size, other weights
    os.utime(model, ns=(1, 1))
    assert cache_key(MESSAGES, params) != before


def test_the_same_file_elsewhere_keeps_its_fingerprint(tmp_path: Path) -> None:
    body = b"x" * (3 * local.FINGERPRINT_CHUNK) + b"tail"
    (tmp_path / "a").mkdir()
    first = gguf(tmp_path / "a" / "m.gguf", body)
    second = gguf(tmp_path / "b.gguf", body)
    assert model_fingerprint(str(first)) == model_fingerprint(str(second))
    third = gguf(tmp_path / "c.gguf", body[:-4] + b"TAIL")  # differs only in the last MiB
    assert model_fingerprint(str(third)) != model_fingerprint(str(first))


def test_a_missing_model_has_no_fingerprint_and_hosted_models_need_none(tmp_path: Path) -> None:
    assert model_fingerprint(str(tmp_path / "gone.gguf")) is None
    hosted = CallParams(model="openai/gpt-4o-mini", temperature=0.0)
    assert cache_key(MESSAGES, hosted) == cache_key(MESSAGES, hosted)
