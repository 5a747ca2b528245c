"""No secret in any output of a session: ``raytrader run`` with a known venue key and secret,
admin API token and journal HMAC key (signed requests to the paper exchange, an HMAC'd and
ed25519-checkpointed journal, the API read with the token and with wrong ones), then every byte
it left is searched: Ray's logs (``<RAY_TMPDIR>/session_latest/logs``), the data directory
(journal, store, write-ahead log, token store), stdout, stderr and the API's answers
(``/metrics`` included). Zero hits; the journal still verifies with the key and public key."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from actors.cli import main
from tests.serve.live_api import free_port
from trading.config import DEFAULT_CONFIG
from trading.security.signing import generate_keypair

pytestmark = pytest.mark.slow  # its own Ray, in the subprocess

VENUE_KEY = "V" + secrets.token_hex(31) + "k"  # 64 letters and digits, as Binance's
VENUE_SECRET = "venue-secret-" + secrets.token_hex(16)  # pragma: allowlist secret
JOURNAL_KEY = "journal-hmac-" + secrets.token_hex(16)
ADMIN_SECRET = secrets.token_urlsafe(32)[:43].ljust(43, "A")
ADMIN_TOKEN = f"rt_{secrets.token_hex(8)}_{ADMIN_SECRET}"
SECRETS = {
    "venue key": VENUE_KEY,
    "venue secret": VENUE_SECRET,
    "journal key": JOURNAL_KEY,
    "admin token": ADMIN_TOKEN,
    "admin token's secret": ADMIN_SECRET,
}
STARTED_WITHIN_S = 240.0
SESSION_WITHIN_S = 420.0


@pytest.fixture(scope="module")
def ray_tmp() -> Iterator[Path]:
    """A short private RAY_TMPDIR (Ray's socket paths must stay short)."""
    directory = Path(tempfile.mkdtemp(prefix="rsg", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _config(directory: Path) -> Path:
    """The bundled config, its journal checkpoints signed by a key made here."""
    generate_keypair(directory / "journal.pem", directory / "journal.pub.pem")
    text = DEFAULT_CONFIG.read_text().replace(
        "  journal_signing_key: null", "  journal_signing_key: journal.pem"
    )
    text = text.replace("  journal_checkpoint_every: 1000", "  journal_checkpoint_every: 50")
    path = directory / "config.yaml"
    path.write_text(text)
    return path


def _environment(ray_tmp: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("RAYTRADER")}
    return keep | {
        "RAY_TMPDIR": str(ray_tmp),
        "RAYTRADER_VENUE_API_KEY": VENUE_KEY,
        "RAYTRADER_VENUE_API_SECRET": VENUE_SECRET,
        "RAYTRADER_JOURNAL_KEY": JOURNAL_KEY,
        "RAYTRADER_ADMIN_TOKEN": ADMIN_TOKEN,
        "PYTHONUNBUFFERED": "1",
    }


def _wait_for_api(log: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + STARTED_WITHIN_S
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("HTTP API on "):
                return line.split()[3]
        if process.poll() is not None:
            pytest.fail(f"raytrader run ended early: {log.read_text()[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"the API did not start within {STARTED_WITHIN_S} s")


def _use_the_api(url: str) -> list[bytes]:
    """Reads with the admin token, /metrics, and refused attempts (a wrong token, a bad role)."""
    answers = []
    with httpx2.Client(base_url=url, timeout=30, trust_env=False) as client:
        good = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        for path in ("/metrics", "/v1/risk", "/v1/positions", "/v1/signals", "/openapi.json"):
            answer = client.get(path, headers=good)
            assert answer.status_code == 200, (path, answer.text)
            answers.append(answer.content)
        wrong = {"Authorization": f"Bearer {ADMIN_TOKEN[:-4]}AAAA"}
        answers.append(client.get("/v1/risk", headers=wrong).content)
        answers.append(
            client.post("/v1/config/reload", headers=good, json={"path": "/etc"}).content
        )
    return answers


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("grep")


@pytest.fixture(scope="module")
def session(ray_tmp: Path, directory: Path) -> dict[str, bytes]:
    """Run the session; every output it left, by where it was found."""
    data_dir, out, err = directory / "data", directory / "stdout", directory / "stderr"
    port = free_port()
    argv = [sys.executable, "-m", "actors.cli", "run", "--config", str(_config(directory))]
    argv += ["--data-dir", str(data_dir), "--port", str(port), "--bars", "60", "--speed", "600"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=_environment(ray_tmp))
        try:
            answers = _use_the_api(_wait_for_api(out, process))
            code = process.wait(timeout=SESSION_WITHIN_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert code == 0, err.read_text()[-3000:]
    outputs = {f"http answer {i}": body for i, body in enumerate(answers)}
    outputs |= {"stdout": out.read_bytes(), "stderr": err.read_bytes()}
    for root in (ray_tmp, data_dir):
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                outputs[str(path)] = path.read_bytes()
    return outputs


def test_the_session_signed_journaled_and_logged(session: dict[str, bytes]) -> None:
    logs = [name for name in session if "/session_latest/logs/" in name or "/logs/" in name]
    assert logs, "Ray's logs were found and searched"
    assert any(name.endswith("journal.jsonl") for name in session)
    assert any(name.endswith("journal.jsonl.checkpoints") for name in session)
    assert b"HTTP API on" in session["stdout"]
    token_id = ADMIN_TOKEN.split("_")[1].encode()
    journal = next(c for name, c in session.items() if name.endswith("journal.jsonl"))
    assert token_id in journal, "the grep sees what is written: the wrong token's id, journaled"


def test_no_secret_appears_in_any_output(session: dict[str, bytes]) -> None:
    hits = [
        f"{label} in {where}"
        for where, content in session.items()
        for label, value in SECRETS.items()
        if value.encode() in content
    ]
    assert hits == []
    assert sum(len(c) for c in session.values()) > 100_000, "a whole session's output was read"


def test_the_journal_verifies_with_the_key_and_its_signed_checkpoints(
    session: dict[str, bytes], directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAYTRADER_JOURNAL_KEY", JOURNAL_KEY)
    journal = directory / "data" / "journal.jsonl"
    public = directory / "journal.pub.pem"
    assert main(["audit", "verify", str(journal), "--public-key", str(public)]) == 0
