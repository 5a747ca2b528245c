"""``raytrader report compliance`` over a journal written by a short real session: the CSV and
HTML files, the hash range and chain verdict it states, a period, signed checkpoints, a tampered
journal (exit 1) and a missing one (one line, exit 2)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from actors.cli import JOURNAL_KEY_ENV, main
from tests.security.session_journal import Session, run_session
from trading.journal.chain import read
from trading.security.signing import (
    checkpoints_path,
    key_id_of,
    sign_checkpoints,
    write_checkpoints,
)

KEY = "session-hmac-key"


@pytest.fixture(scope="module")
def session(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Session:
    directory = tmp_path_factory.mktemp("session")
    return run_session(shared_data / "binance_spot_2024_2026", directory, KEY.encode())


@pytest.fixture(scope="module")
def records(session: Session) -> list[dict[str, Any]]:
    return list(read(session.journal))


@pytest.fixture(autouse=True)
def _journal_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(JOURNAL_KEY_ENV, KEY)


def _coverage(directory: Path) -> dict[str, str]:
    with (directory / "coverage.csv").open(newline="") as handle:
        return dict(csv.reader(handle))


def _orders(directory: Path) -> list[dict[str, str]]:
    with (directory / "orders.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _ids(records: list[dict[str, Any]]) -> list[str]:
    kinds = ("intent", "decision", "order", "fill")
    return list(
        dict.fromkeys(r["payload"]["client_order_id"] for r in records if r["kind"] in kinds)
    )


@pytest.mark.parametrize("template", ["generic", "eu", "us"])
def test_the_report_states_the_whole_chain_and_lists_every_order(
    session: Session,
    records: list[dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    template: str,
) -> None:
    out = tmp_path / "report"
    argv = ["report", "compliance", "--journal", str(session.journal), "--template", template]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"records 0-{len(records) - 1}" in printed
    assert "chain verified: yes" in printed
    assert {p.name for p in out.iterdir()} == {
        "coverage.csv",
        "orders.csv",
        "config_changes.csv",
        "report.html",
    }
    coverage = _coverage(out)
    assert coverage["chain_verified"] == "yes"
    assert coverage["hmac_checked"] == "yes"
    assert coverage["hash_of_last"] == records[-1]["hash"]
    assert coverage["template"] == template
    assert len(_orders(out)) == len(_ids(records))
    assert "The journal&#x27;s hash chain verified" in (out / "report.html").read_text()


def test_a_period_from_the_data_dir_covers_only_its_records(
    session: Session, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    start = session.reload_at.isoformat().replace("+00:00", "")  # naive: read as UTC
    out = tmp_path / "report"
    data_dir = ["--data-dir", str(session.journal.parent), "--out", str(out)]
    assert main(["report", "compliance", *data_dir, "--from", start]) == 0
    inside = [r for r in records if datetime.fromisoformat(r["ts"]) >= session.reload_at]
    coverage = _coverage(out)
    assert coverage["first_seq"] == str(inside[0]["seq"])
    assert coverage["hash_before_first"] == records[inside[0]["seq"] - 1]["hash"]
    assert [row["Client order id"] for row in _orders(out)] == _ids(inside)


def test_signed_checkpoints_are_verified_with_the_public_key(
    session: Session, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    signer = Ed25519PrivateKey.generate()
    journal = tmp_path / "journal.jsonl"
    journal.write_bytes(session.journal.read_bytes())
    write_checkpoints(
        checkpoints_path(journal),
        sign_checkpoints(records, signer, key_id_of(signer.public_key()), every=100),
    )
    public = tmp_path / "signer.pub.pem"
    public.write_bytes(
        signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    out = tmp_path / "report"
    argv = ["report", "compliance", "--journal", str(journal), "--out", str(out)]
    assert main([*argv, "--public-key", str(public)]) == 0
    covered = len(records) // 100 * 100 - 1
    assert _coverage(out)["signed_checkpoints"] == (
        f"verified: {len(records) // 100} signed checkpoint(s) vouch for records 0-{covered}"
    )


def test_a_tampered_journal_is_reported_up_to_the_break_and_exits_1(
    session: Session, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.jsonl"
    lines = session.journal.read_text().splitlines(keepends=True)
    lines[10] = lines[10].replace('"kind":"', '"kind":"x', 1)
    journal.write_text("".join(lines))
    out = tmp_path / "report"
    assert main(["report", "compliance", "--journal", str(journal), "--out", str(out)]) == 1
    coverage = _coverage(out)
    assert coverage["chain_verified"] == "no"
    assert coverage["chain_records"] == "10"
    assert "record seq=10" in coverage["chain_problem"]


def test_a_missing_journal_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["report", "compliance", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"report error: {tmp_path / 'journal.jsonl'}: no such journal\n"
