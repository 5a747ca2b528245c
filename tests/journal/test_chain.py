"""The audit journal's hash chain: any edit, deletion, insertion or reordering is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.cli import main
from trading.journal.chain import GENESIS, Journal, JournalError, record_hash, verify

T0 = datetime(2025, 10, 1, tzinfo=UTC)


def _write(path: Path, n: int, key: bytes | None = None) -> list[dict[str, object]]:
    with Journal(path, key) as journal:
        return [
            journal.append("fill", {"i": i, "qty": f"0.{i}"}, ts=T0 + timedelta(seconds=i))
            for i in range(n)
        ]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_intact_journal_verifies_and_chains_from_genesis(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    records = _write(path, 5)
    assert records[0]["prev"] == GENESIS
    assert records[1]["prev"] == records[0]["hash"]
    assert records[0]["hash"] == record_hash(json.loads(_lines(path)[0]))
    report = verify(path)
    assert report.ok
    assert report.records == 5
    assert report.last_hash == records[-1]["hash"]


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    first = _write(path, 3)
    with Journal(path) as journal:
        record = journal.append("signal", {"symbol": "BTC/USDT"}, ts=T0)
    assert record["seq"] == 3
    assert record["prev"] == first[-1]["hash"]
    assert verify(path).records == 4


def test_edited_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    _write(path, 5)
    lines = _lines(path)
    lines[2] = lines[2].replace('"qty":"0.2"', '"qty":"9.2"')
    path.write_text("".join(lines))
    bad = verify(path).first_bad
    assert bad is not None
    assert (bad.line, bad.seq) == (3, 2)
    assert "edited" in bad.reason


def test_deleted_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    _write(path, 5)
    lines = _lines(path)
    del lines[1]
    path.write_text("".join(lines))
    bad = verify(path).first_bad
    assert bad is not None
    assert bad.line == 2
    assert bad.reason == "seq 2 where 1 was expected (deleted or reordered)"


def test_reordered_records_are_named(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    _write(path, 5)
    lines = _lines(path)
    lines[3], lines[4] = lines[4], lines[3]
    path.write_text("".join(lines))
    bad = verify(path).first_bad
    assert bad is not None
    assert (bad.line, bad.seq) == (4, 4)


def test_rewritten_chain_fails_the_hmac(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    _write(path, 3, key=b"k1")
    forged = tmp_path / "forged.jsonl"
    _write(forged, 3, key=b"attacker-key")
    assert verify(forged).ok, "without the key the forgery looks consistent"
    bad = verify(forged, key=b"k1").first_bad
    assert bad is not None
    assert (bad.line, bad.reason) == (1, "mac does not verify with the key")
    assert verify(path, key=b"k1").ok


def test_appending_after_a_broken_chain_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    _write(path, 2)
    path.write_text(path.read_text().replace('"i":1', '"i":7'))
    with pytest.raises(JournalError, match="line 2: record seq=1"):
        Journal(path)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=12),
    target=st.integers(min_value=0, max_value=11),
    how=st.sampled_from(["edit", "delete", "duplicate", "truncate_line"]),
)
def test_any_tampering_is_detected_at_the_tampered_line(
    tmp_path_factory: pytest.TempPathFactory, n: int, target: int, how: str
) -> None:
    path = tmp_path_factory.mktemp("chain") / "journal.jsonl"
    _write(path, n)
    target %= n
    lines = _lines(path)
    if how == "edit":
        lines[target] = lines[target].replace('"fill"', '"fil1"')
    elif how == "delete":
        if target == n - 1:
            target -= 1  # deleting the last record is not detectable without an anchor
        del lines[target]
    elif how == "duplicate":
        lines.insert(target, lines[target])
        target += 1
    else:
        lines[target] = lines[target][:-10] + "\n"
    path.write_text("".join(lines))
    bad = verify(path).first_bad
    assert bad is not None
    assert bad.line == target + 1


def test_audit_verify_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "journal.jsonl"
    _write(path, 4)
    assert main(["audit", "verify", str(path)]) == 0
    assert "ok, 4 records" in capsys.readouterr().out
    path.write_text(path.read_text().replace('"i":3', '"i":4'))
    assert main(["audit", "verify", str(path)]) == 1
    assert "TAMPERED at line 4: record seq=3: hash does not match" in capsys.readouterr().err
    assert main(["audit", "verify", str(tmp_path / "missing.jsonl")]) == 2
