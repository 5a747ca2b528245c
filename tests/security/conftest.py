"""A real Vault-API server for the secrets tests: OpenBao's ``bao server -dev`` on loopback."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

READY_WITHIN_S = 30.0


@dataclass(frozen=True)
class Bao:
    url: str
    root_token: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ready(url: str) -> bool:
    try:
        health = f"{url}/v1/sys/health"  # http://127.0.0.1 only
        with urllib.request.urlopen(health, timeout=1) as answer:  # noqa: S310
            return int(answer.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    """``bao server -dev`` with a random root token on a free loopback port; killed at the end."""
    exe = shutil.which("bao")
    if exe is None:
        pytest.skip("OpenBao's bao binary is not on PATH (run .ci/openbao.sh)")
    port, token = _free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    log: Path = tmp_path_factory.mktemp("bao") / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [
                exe,
                "server",
                "-dev",
                f"-dev-root-token-id={token}",
                f"-dev-listen-address=127.0.0.1:{port}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        while not _ready(url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"bao server did not become ready: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield Bao(url, token)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
