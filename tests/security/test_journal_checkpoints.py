"""Signed journal checkpoints written live by the recorder, and ``raytrader audit verify
--public-key``: a journal whose whole HMAC chain was rewritten by a holder of the HMAC key still
verifies as a chain but fails its ed25519 checkpoints; a reopened journal continues signing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from actors.cli import JOURNAL_KEY_ENV, main
from actors.journal import _checkpoint_log
from trading.config import SecuritySettings
from trading.journal.chain import Journal, read, record_hash, record_mac, verify
from trading.journal.recorder import EquityPoint, Recorder
from trading.journal.store import Store
from trading.security.signing import (
    CheckpointLog,
    checkpoints_path,
    generate_keypair,
    key_id_of,
    read_checkpoints,
)

HMAC_KEY = "journal-hmac-key"
T0 = datetime(2025, 10, 1, tzinfo=UTC)
EVERY = 3


@pytest.fixture
def signer(tmp_path: Path) -> Ed25519PrivateKey:
    return generate_keypair(tmp_path / "signer.pem", tmp_path / "signer.pub.pem")


def _points(start: int, count: int) -> list[EquityPoint]:
    return [
        EquityPoint(T0 + timedelta(minutes=i), Decimal(100_000 + i), Decimal(100_000), Decimal(0))
        for i in range(start, start + count)
    ]


def _session(directory: Path, count: int, start: int = 0) -> Path:
    """``count`` equity points journaled with the HMAC key, checkpoints signed as they go."""
    path = directory / "journal.jsonl"
    journal = Journal(path, HMAC_KEY.encode())
    log = CheckpointLog.open(
        path, directory / "signer.pem", None, EVERY, (journal.records, journal.last_hash)
    )
    recorder = Recorder(journal, Store.open(directory / "store.db"), on_append=log.observe)
    for point in _points(start, count):
        recorder.record([point], point.ts)
    recorder.close()
    return path


def _rewrite_whole_chain(path: Path, seq: int) -> None:
    """What a holder of the HMAC key can do: edit a record and re-chain and re-MAC every one."""
    prev, lines = "0" * 64, []
    for record in read(path):
        if record["seq"] == seq:
            record["payload"] = {**record["payload"], "equity": "999999999"}
        record["prev"] = prev
        del record["hash"], record["mac"]
        record["hash"] = record_hash(record)
        record["mac"] = record_mac(record["hash"], HMAC_KEY.encode())
        prev = record["hash"]
        lines.append(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
    path.write_text("".join(lines))


def _audit(path: Path, public_key: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv(JOURNAL_KEY_ENV, HMAC_KEY)
    return main(["audit", "verify", str(path), "--public-key", str(public_key)])


def test_the_recorder_signs_a_checkpoint_every_n_records(
    tmp_path: Path, signer: Ed25519PrivateKey
) -> None:
    path = _session(tmp_path, 10)
    checkpoints = list(read_checkpoints(checkpoints_path(path)))
    records = list(read(path))
    assert [c.seq for c in checkpoints] == [2, 5, 8]
    assert [c.chain_hash for c in checkpoints] == [records[s]["hash"] for s in (2, 5, 8)]
    assert {c.key_id for c in checkpoints} == {key_id_of(signer.public_key())}


def test_audit_verify_with_the_public_key_vouches_for_the_signed_records(
    tmp_path: Path,
    signer: Ed25519PrivateKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _session(tmp_path, 10)
    assert _audit(path, tmp_path / "signer.pub.pem", monkeypatch) == 0
    out = capsys.readouterr().out
    assert "ok, 10 records" in out
    assert "3 signed checkpoints vouch for records 0-8; 1 later records not yet signed" in out


def test_a_whole_chain_rewritten_with_the_hmac_key_is_detected(
    tmp_path: Path,
    signer: Ed25519PrivateKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _session(tmp_path, 10)
    _rewrite_whole_chain(path, seq=4)
    assert verify(path, HMAC_KEY.encode()).ok, "the HMAC chain alone cannot tell"
    assert _audit(path, tmp_path / "signer.pub.pem", monkeypatch) == 1
    err = capsys.readouterr().err
    assert "TAMPERED: journal checkpoint at seq 5: tampered" in err
    assert err.count("\n") == 1


def test_a_journal_without_checkpoints_fails_a_check_that_asks_for_them(
    tmp_path: Path,
    signer: Ed25519PrivateKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _session(tmp_path, 10)
    checkpoints_path(path).unlink()
    assert _audit(path, tmp_path / "signer.pub.pem", monkeypatch) == 1
    assert "unsigned: no checkpoints" in capsys.readouterr().err


def test_checkpoints_by_another_key_are_refused_naming_the_key_id(
    tmp_path: Path,
    signer: Ed25519PrivateKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _session(tmp_path, 10)
    generate_keypair(tmp_path / "other.pem", tmp_path / "other.pub.pem")
    assert _audit(path, tmp_path / "other.pub.pem", monkeypatch) == 1
    assert "unknown key id" in capsys.readouterr().err


def test_a_reopened_journal_keeps_signing_where_it_ended(
    tmp_path: Path, signer: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    _session(tmp_path, 4)
    path = _session(tmp_path, 6, start=4)
    assert [c.seq for c in read_checkpoints(checkpoints_path(path))] == [2, 5, 8]
    assert _audit(path, tmp_path / "signer.pub.pem", monkeypatch) == 0


def test_a_reopened_journal_drops_checkpoints_past_its_tail(
    tmp_path: Path, signer: Ed25519PrivateKey
) -> None:
    """A crash between the checkpoint and the batch's end: the journal is cut back to the batch's
    start, and the checkpoint past it goes too, so the chain goes on signable."""
    path = _session(tmp_path, 7)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:5]))
    path = _session(tmp_path, 5, start=5)
    assert [c.seq for c in read_checkpoints(checkpoints_path(path))] == [2, 5, 8]
    assert len(list(read(path))) == 10


def test_the_journal_actor_signs_when_security_names_a_key(
    tmp_path: Path, signer: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.jsonl"
    security = SecuritySettings(
        journal_signing_key=str(tmp_path / "signer.pem"), journal_checkpoint_every=2
    )
    with Journal(path, HMAC_KEY.encode()) as journal:
        assert _checkpoint_log(journal, SecuritySettings()) is None
        observe = _checkpoint_log(journal, security)
        assert observe is not None
        for point in _points(0, 5):
            observe(journal.append("equity", {"equity": str(point.equity)}, ts=point.ts))
    assert [c.seq for c in read_checkpoints(checkpoints_path(path))] == [1, 3]
    assert _audit(path, tmp_path / "signer.pub.pem", monkeypatch) == 0
