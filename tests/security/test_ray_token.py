"""Ray's own token authentication (Ray 2.60: ``RAY_AUTH_MODE=token`` with ``RAY_AUTH_TOKEN``):
a cluster started with a token admits a driver with that token and refuses one with another,
and ``raytrader run`` turns token mode on by itself when a token is given. Each cluster lives in
a child process and ends with it (never ``ray stop``: other clusters share this machine)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.cli import _ray_environment

HEAD = """
import sys, ray
ray.init(include_dashboard=False, num_cpus=1)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()  # lives until the test closes stdin
ray.shutdown()
"""
DRIVER = """
import sys, ray
ray.init(address=sys.argv[1])
print("answer", ray.get(ray.remote(lambda: 41).remote()) + 1, flush=True)
"""
WITHIN_S = 240


@pytest.fixture
def ray_tmp() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="rtk", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _environment(ray_tmp: Path, token: str | None, mode: str | None) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    extra = {"RAY_TMPDIR": str(ray_tmp)}
    if token is not None:
        extra["RAY_AUTH_TOKEN"] = token
    if mode is not None:
        extra["RAY_AUTH_MODE"] = mode
    return keep | extra


def _driver(address: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", DRIVER, address],
        env=env,
        capture_output=True,
        text=True,
        timeout=WITHIN_S,
        check=False,
    )


@pytest.mark.slow  # starts its own Ray
def test_a_token_cluster_admits_its_token_and_refuses_another(ray_tmp: Path) -> None:
    token, other = secrets.token_hex(16), secrets.token_hex(16)
    head = subprocess.Popen(
        [sys.executable, "-c", HEAD],
        env=_environment(ray_tmp, token, "token"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert head.stdout is not None
        address = head.stdout.readline().strip()
        assert address, "the head printed its GCS address"
        admitted = _driver(address, _environment(ray_tmp, token, "token"))
        assert "answer 42" in admitted.stdout, admitted.stderr[-2000:]
        refused = _driver(address, _environment(ray_tmp, other, "token"))
        assert "answer" not in refused.stdout
        assert refused.returncode != 0
        assert "auth" in refused.stderr.lower(), refused.stderr[-2000:]
        assert token not in refused.stderr
    finally:
        assert head.stdin is not None
        head.stdin.close()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()


@pytest.mark.slow  # starts its own Ray
def test_raytrader_run_uses_token_auth_when_given_a_token(ray_tmp: Path, tmp_path: Path) -> None:
    token = secrets.token_hex(16)
    argv = [sys.executable, "-m", "actors.cli", "run", "--bars", "3", "--port", "0"]
    done = subprocess.run(
        [*argv, "--data-dir", str(tmp_path / "data")],
        env=_environment(ray_tmp, token, None),
        capture_output=True,
        text=True,
        timeout=WITHIN_S * 2,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    logs = b"".join(path.read_bytes() for path in ray_tmp.rglob("*") if path.is_file())
    assert token.encode() not in done.stdout.encode() + done.stderr.encode() + logs


@pytest.mark.parametrize(
    ("given", "mode"),
    [
        ({"RAY_AUTH_TOKEN": "t" * 32}, "token"),
        ({"RAY_AUTH_TOKEN_PATH": "/x"}, "token"),
        ({}, "disabled"),
    ],
)
def test_the_cli_chooses_token_mode_when_a_token_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: dict[str, str], mode: str
) -> None:
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    _ray_environment()
    assert os.environ["RAY_AUTH_MODE"] == mode
