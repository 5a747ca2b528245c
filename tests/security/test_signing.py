"""Ed25519 signatures: config files (detached .sig by key id) and signed journal checkpoints
that catch a whole-chain rewrite by someone holding the journal's HMAC key."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.journal.chain import Journal, read, record_hash, record_mac, verify
from trading.security.permissions import InsecureFileError
from trading.security.signing import (
    BrokenChainError,
    Checkpoint,
    MalformedSignatureError,
    TamperedError,
    UnknownKeyIdError,
    UnsignedError,
    generate_keypair,
    key_id_of,
    load_private_key,
    load_public_key,
    read_checkpoints,
    sign_checkpoints,
    sign_file,
    signature_path,
    verify_checkpoints,
    verify_file,
    write_checkpoints,
)

CONFIG = b"risk:\n  max_gross_exposure_pct: 20.0\nsymbols: [BTC/USDT, ETH/USDT]\n"
HMAC_KEY = b"journal-hmac-key"
T0 = datetime(2025, 10, 1, tzinfo=UTC)
SIGNER = Ed25519PrivateKey.generate()
KEYS: dict[str, Ed25519PublicKey] = {"k1": SIGNER.public_key()}


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_bytes(CONFIG)
    return path


def test_generated_keys_round_trip_through_pem_with_a_private_file_of_mode_0600(
    tmp_path: Path,
) -> None:
    key = generate_keypair(tmp_path / "signer.pem", tmp_path / "signer.pub.pem")
    assert stat.S_IMODE((tmp_path / "signer.pem").stat().st_mode) == 0o600
    public = load_public_key(tmp_path / "signer.pub.pem")
    assert key_id_of(public) == key_id_of(key.public_key())
    loaded = load_private_key(tmp_path / "signer.pem")
    config = _config(tmp_path)
    sign_file(config, loaded, key_id_of(public))
    assert verify_file(config, {key_id_of(public): public}) == key_id_of(public)


def test_a_private_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    generate_keypair(tmp_path / "signer.pem", tmp_path / "signer.pub.pem")
    (tmp_path / "signer.pem").chmod(0o640)
    with pytest.raises(InsecureFileError, match="0640"):
        load_private_key(tmp_path / "signer.pem")


def test_the_signature_file_holds_the_key_id_and_an_ed25519_signature_over_the_bytes(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    sig = sign_file(config, SIGNER, "k1")
    assert sig == signature_path(config) == tmp_path / "config.yaml.sig"
    document = json.loads(sig.read_text())
    assert document["key_id"] == "k1"
    assert document["algorithm"] == "ed25519"
    KEYS["k1"].verify(base64.b64decode(document["signature"]), CONFIG)  # raises if not


def test_an_unsigned_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(UnsignedError, match=r"config\.yaml: unsigned: no signature file"):
        verify_file(_config(tmp_path), KEYS)


def test_a_signature_by_an_unknown_key_id_is_refused_naming_the_id(tmp_path: Path) -> None:
    config = _config(tmp_path)
    sign_file(config, Ed25519PrivateKey.generate(), "retired-2024")
    with pytest.raises(UnknownKeyIdError, match=r"'retired-2024'.*known: k1"):
        verify_file(config, KEYS)


def test_a_rotated_key_verifies_once_its_id_is_trusted(tmp_path: Path) -> None:
    config = _config(tmp_path)
    new = Ed25519PrivateKey.generate()
    sign_file(config, new, "k2")
    assert verify_file(config, {**KEYS, "k2": new.public_key()}) == "k2"


def test_a_signature_under_a_trusted_id_by_another_key_is_tampered(tmp_path: Path) -> None:
    config = _config(tmp_path)
    sign_file(config, Ed25519PrivateKey.generate(), "k1")
    with pytest.raises(TamperedError, match="tampered"):
        verify_file(config, KEYS)


def test_a_signature_file_that_is_not_json_is_malformed(tmp_path: Path) -> None:
    config = _config(tmp_path)
    signature_path(config).write_text("k1:deadbeef")
    with pytest.raises(MalformedSignatureError):
        verify_file(config, KEYS)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, len(CONFIG) - 1), st.integers(1, 255))
def test_any_single_byte_change_of_a_signed_file_fails_verification(
    tmp_path_factory: pytest.TempPathFactory, index: int, flip: int
) -> None:
    config = _config(tmp_path_factory.mktemp("signed"))
    sign_file(config, SIGNER, "k1")
    changed = bytearray(CONFIG)
    changed[index] ^= flip
    config.write_bytes(bytes(changed))
    with pytest.raises(TamperedError):
        verify_file(config, KEYS)


# --------------------------------------------------------------------------- journal checkpoints


def _journal(path: Path, count: int) -> list[dict[str, Any]]:
    with Journal(path, key=HMAC_KEY) as journal:
        for i in range(count):
            payload = {"client_order_id": f"rt-{i:032x}", "quantity": str(i + 1)}
            journal.append("decision", payload, ts=T0 + timedelta(minutes=i))
    return list(read(path))


def _rewrite_whole_chain(path: Path, change: dict[str, Any], seq: int = 3) -> None:
    """What a holder of the HMAC key can do: edit a record and re-chain every one after it."""
    records = list(read(path))
    prev = "0" * 64
    lines = []
    for record in records:
        if record["seq"] == seq:
            record["payload"] = {**record["payload"], **change}
        record["prev"] = prev
        record.pop("hash"), record.pop("mac")
        record["hash"] = record_hash(record)
        record["mac"] = record_mac(record["hash"], HMAC_KEY)
        prev = record["hash"]
        lines.append(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
    path.write_text("".join(lines))


def test_checkpoints_every_n_records_sign_the_seq_and_chain_hash_there(tmp_path: Path) -> None:
    records = _journal(tmp_path / "journal.jsonl", 10)
    checkpoints = sign_checkpoints(records, SIGNER, "k1", every=4)
    assert [(c.seq, c.chain_hash) for c in checkpoints] == [
        (3, records[3]["hash"]),
        (7, records[7]["hash"]),
    ]
    report = verify_checkpoints(records, checkpoints, KEYS)
    assert (report.checkpoints, report.covered, report.records) == (2, 8, 10)


def test_a_whole_chain_rewritten_with_the_hmac_key_fails_the_signed_checkpoints(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    checkpoints = sign_checkpoints(_journal(path, 10), SIGNER, "k1", every=4)
    write_checkpoints(tmp_path / "journal.checkpoints", checkpoints)
    _rewrite_whole_chain(path, {"quantity": "1000"})
    assert verify(path, key=HMAC_KEY).ok, "the HMAC chain alone cannot tell"
    stored = list(read_checkpoints(tmp_path / "journal.checkpoints"))
    assert stored == checkpoints
    with pytest.raises(TamperedError, match=r"checkpoint at seq 3.*chain hash is not the signed"):
        verify_checkpoints(read(path), stored, KEYS)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 9))
def test_a_rechained_rewrite_is_caught_exactly_when_a_checkpoint_covers_the_record(
    tmp_path_factory: pytest.TempPathFactory, seq: int
) -> None:
    path = tmp_path_factory.mktemp("journal") / "journal.jsonl"
    checkpoints = sign_checkpoints(_journal(path, 10), SIGNER, "k1", every=4)
    _rewrite_whole_chain(path, {"quantity": "0"}, seq)
    assert verify(path, key=HMAC_KEY).ok
    if seq <= 7:
        with pytest.raises(TamperedError):
            verify_checkpoints(read(path), checkpoints, KEYS)
    else:
        assert verify_checkpoints(read(path), checkpoints, KEYS).covered == 8, "8, 9 unsigned yet"


def test_an_edit_without_rechaining_is_named_at_the_record_that_breaks(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    records = _journal(path, 8)
    checkpoints = sign_checkpoints(records, SIGNER, "k1", every=4)
    records[5]["payload"]["quantity"] = "999"
    with pytest.raises(TamperedError, match=r"record seq 6: .*does not continue the chain"):
        verify_checkpoints(records, checkpoints, KEYS)


def test_a_journal_cut_before_a_checkpoint_is_named_truncated(tmp_path: Path) -> None:
    records = _journal(tmp_path / "journal.jsonl", 8)
    checkpoints = sign_checkpoints(records, SIGNER, "k1", every=4)
    with pytest.raises(UnsignedError, match=r"seq 7.*ends after 6 records"):
        verify_checkpoints(records[:6], checkpoints, KEYS)


def test_a_forged_checkpoint_or_an_unknown_signer_is_refused(tmp_path: Path) -> None:
    records = _journal(tmp_path / "journal.jsonl", 4)
    [checkpoint] = sign_checkpoints(records, SIGNER, "k1", every=4)
    forger = Ed25519PrivateKey.generate()
    [forged] = sign_checkpoints(records, forger, "k1", every=4)
    with pytest.raises(TamperedError, match="does not match"):
        verify_checkpoints(records, [forged], KEYS)
    [stranger] = sign_checkpoints(records, forger, "k9", every=4)
    with pytest.raises(UnknownKeyIdError):
        verify_checkpoints(records, [stranger], KEYS)
    moved = Checkpoint(2, checkpoint.chain_hash, "k1", checkpoint.signature)
    with pytest.raises(TamperedError):
        verify_checkpoints(records, [moved], KEYS)
    with pytest.raises(UnsignedError, match="no checkpoints"):
        verify_checkpoints(records, [], KEYS)


def test_the_signer_refuses_to_sign_a_chain_that_is_already_broken(tmp_path: Path) -> None:
    records = _journal(tmp_path / "journal.jsonl", 4)
    records[1]["payload"]["quantity"] = "7"
    with pytest.raises(BrokenChainError, match="seq=1"):
        sign_checkpoints(records, SIGNER, "k1", every=2)
