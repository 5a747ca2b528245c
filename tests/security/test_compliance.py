"""Compliance reports from a journal written by a short real session (in-process pipeline)."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.security.session_journal import MANUAL_ID, Session, run_session
from trading.journal.chain import Journal, read
from trading.journal.recorder import ConfigChange, Recorder
from trading.journal.store import Store
from trading.security.compliance import (
    TEMPLATES,
    ComplianceReport,
    UnknownTemplateError,
    build_report,
    render_html,
    template,
    write_csv,
    write_html,
)
from trading.security.signing import sign_checkpoints

KEY = b"session-hmac-key"
MICROSECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture(scope="module")
def session(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Session:
    directory = tmp_path_factory.mktemp("session")
    return run_session(shared_data / "binance_spot_2024_2026", directory, KEY)


@pytest.fixture(scope="module")
def records(session: Session) -> list[dict[str, Any]]:
    return list(read(session.journal))


@pytest.fixture(scope="module")
def report(session: Session) -> ComplianceReport:
    return build_report(session.journal, KEY, now=datetime(2025, 2, 1, tzinfo=UTC))


def _order_ids(records: list[dict[str, Any]]) -> list[str]:
    kinds = ("intent", "decision", "order", "fill")
    ids = (r["payload"]["client_order_id"] for r in records if r["kind"] in kinds)
    return list(dict.fromkeys(ids))


def test_the_report_covers_the_whole_verified_chain_by_seq_and_hash(
    report: ComplianceReport, records: list[dict[str, Any]]
) -> None:
    coverage = report.coverage
    assert coverage.chain_verified
    assert coverage.hmac_checked
    assert coverage.chain_records == len(records)
    assert (coverage.first_seq, coverage.last_seq) == (0, len(records) - 1)
    assert coverage.hash_before == "0" * 64
    assert coverage.hash_last == records[-1]["hash"]


def test_every_journaled_order_is_a_row_with_its_decision_fills_and_venue_ids(
    report: ComplianceReport, records: list[dict[str, Any]]
) -> None:
    ids = _order_ids(records)
    assert len(ids) > 20, "the window must trade for the report to mean anything"
    assert [row.client_order_id for row in report.orders] == ids
    fills: dict[str, list[str]] = {}
    for record in records:
        if record["kind"] == "fill":
            payload = record["payload"]
            fills.setdefault(payload["client_order_id"], []).append(payload["trade_id"])
    for row in report.orders:
        values = row.values()
        assert values["venue_trade_ids"].split() == fills.get(row.client_order_id, [])
        assert values["manual"] == ("yes" if row.client_order_id == MANUAL_ID else "no")
    filled = [row.values() for row in report.orders if row.state is not None]
    assert filled
    assert all(v["symbol"] in ("BTC/USDT", "ETH/USDT") for v in filled)
    assert all(v["decision"] in ("APPROVED", "RESIZED") for v in filled if v["decision"])


def test_the_manual_order_shows_as_a_manual_denial_with_its_reason_and_time(
    report: ComplianceReport, session: Session
) -> None:
    [row] = [r for r in report.orders if r.client_order_id == MANUAL_ID]
    values = row.values()
    assert values["manual"] == "yes"
    assert (values["symbol"], values["side"]) == ("BTC/USDT", "BUY"), "from the journaled intent"
    assert values["decision"] == "DENIED" == str(session.manual.decision.outcome)
    assert values["denial_reason"] == "INVALID_INPUT"
    assert "needs a positive stop_price" in values["evidence"]
    assert values["requested_quantity"] == "1000"
    assert values["approved_quantity"] == "0"
    assert values["decided_at"] == "2025-01-04T03:00:00.000000Z"  # step 300 of 15m from Jan 1


def test_approved_orders_carry_the_reasons_of_the_signal_they_came_from(
    report: ComplianceReport, records: list[dict[str, Any]]
) -> None:
    signals = {
        (r["payload"]["symbol"], r["ts"]): r["payload"]["reasons"]
        for r in records
        if r["kind"] == "signal"
    }
    checked = 0
    for row in report.orders:
        if row.decision is None or row.state is None or row.decision.reason is not None:
            continue
        ts = row.decision.decided_at.isoformat().replace("+00:00", "Z")
        assert list(row.signal_reasons) == signals[(row.symbol, ts)]
        checked += 1
    assert checked > 5


def test_every_denied_order_names_its_symbol_and_side(
    report: ComplianceReport, records: list[dict[str, Any]]
) -> None:
    denied = [r.values() for r in report.orders if r.decision and r.decision.outcome == "DENIED"]
    intents = {
        r["payload"]["client_order_id"]: r["payload"] for r in records if r["kind"] == "intent"
    }
    assert denied, "the session has denials"
    assert {v["client_order_id"] for v in denied} == set(intents)
    for values in denied:
        intent = intents[values["client_order_id"]]
        assert (values["symbol"], values["side"]) == (intent["symbol"], intent["side"])
        assert values["symbol"] in ("BTC/USDT", "ETH/USDT")


def test_config_changes_applied_and_refused_are_listed_with_old_and_new_values(
    report: ComplianceReport, session: Session
) -> None:
    applied, refused = (c.values() for c in report.config_changes)
    stamp = session.reload_at.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert applied == {
        "journal_seq": applied["journal_seq"],
        "ts": stamp,
        "source": "api:/v1/config/reload",
        "sha256": "d1" * 32,
        "applied": "yes",
        "error": "",
        "changes": "risk.max_gross_exposure_pct: 20.0 -> 15.0",
    }
    assert (refused["applied"], refused["error"]) == ("no", "risk.max_leverage: > 0")


def test_a_period_covers_only_its_records_and_names_the_hash_before_it(
    session: Session, records: list[dict[str, Any]]
) -> None:
    start = session.reload_at
    report = build_report(session.journal, KEY, period_from=start)
    inside = [r for r in records if datetime.fromisoformat(r["ts"]) >= start]
    first = inside[0]["seq"]
    assert report.coverage.first_seq == first
    assert report.coverage.hash_before == records[first - 1]["hash"]
    assert report.coverage.last_seq == records[-1]["seq"]
    assert [r.client_order_id for r in report.orders] == _order_ids(inside)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_csv_files_hold_the_template_columns_and_microsecond_utc_times(
    report: ComplianceReport, template: str, tmp_path: Path
) -> None:
    coverage, orders, changes = write_csv(report, template, tmp_path)
    with orders.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = [label for _, label in TEMPLATES[template].orders]
    assert list(rows[0]) == labels
    assert len(rows) == len(report.orders)
    times = [
        value
        for row in rows
        for label, value in row.items()
        if "(UTC" in label or "timestamp" in label.lower()
    ]
    assert times
    assert all(MICROSECONDS.match(t) for t in times if t)
    with coverage.open(newline="") as handle:
        fields = dict(csv.reader(handle))
    assert fields["chain_verified"] == "yes"
    assert fields["hash_of_last"] == report.coverage.hash_last
    assert fields["template"] == template
    assert len(list(csv.reader(changes.open(newline="")))) == 3


def test_templates_name_columns_for_their_regime() -> None:
    eu = dict(TEMPLATES["eu"].orders)
    us = dict(TEMPLATES["us"].orders)
    assert eu["venue_trade_ids"] == "Trading venue transaction id code"
    assert us["manual"] == "Manual flag"
    with pytest.raises(UnknownTemplateError, match=r"'sec'.*generic, eu, us"):
        template("sec")


def test_signed_checkpoints_are_stated_verified_or_failed(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    _small_journal(path, "file:config.yaml")
    signer = Ed25519PrivateKey.generate()
    signed = sign_checkpoints(read(path), signer, "k1", every=2)
    keys = {"k1": signer.public_key()}
    report = build_report(path, KEY, checkpoints=(signed, keys))
    verdict = report.coverage.signed_checkpoints
    assert verdict == "verified: 1 signed checkpoint(s) vouch for records 0-1"
    other = {"k1": Ed25519PrivateKey.generate().public_key()}
    failed = build_report(path, KEY, checkpoints=(signed, other)).coverage.signed_checkpoints
    assert failed.startswith("FAILED: journal checkpoint at seq 1: tampered")
    assert build_report(path, KEY).coverage.signed_checkpoints == "not checked"


def _small_journal(path: Path, source: str) -> None:
    recorder = Recorder(Journal(path, KEY), Store.open(path.with_suffix(".db")))
    moment = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    for n in range(3):
        recorder.record([ConfigChange(moment, source, f"{n:064x}", {})], moment)
    recorder.close()


def test_html_escapes_every_value(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    _small_journal(path, "api:<script>alert('x')</script>")
    page = write_html(build_report(path, KEY), "generic", tmp_path / "report.html").read_text()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "2025-03-01T12:00:00.123456Z" in page


def test_a_broken_chain_is_stated_and_only_the_records_before_it_are_reported(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    _small_journal(path, "file:config.yaml")
    lines = path.read_text().splitlines(keepends=True)
    edited = json.loads(lines[1])
    edited["payload"]["source"] = "file:other.yaml"
    lines[1] = json.dumps(edited) + "\n"
    path.write_text("".join(lines))
    report = build_report(path, KEY)
    assert not report.coverage.chain_verified
    assert report.coverage.chain_problem is not None
    assert "line 2" in report.coverage.chain_problem
    assert [c.seq for c in report.config_changes] == [0]
    assert "BROKEN" in render_html(report, "eu")


def test_the_wrong_hmac_key_does_not_verify(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    _small_journal(path, "file:config.yaml")
    report = build_report(path, b"another key")
    assert not report.coverage.chain_verified
    assert report.config_changes == []
