"""Append-only JSON-lines audit journal with a hash chain (and an optional HMAC).

Each line is one record: ``seq`` (0, 1, 2, ...), ``ts``, ``kind``, ``payload``, ``prev`` (the
previous record's hash; 64 zeros for the first) and ``hash`` = SHA-256 of the record's canonical
JSON (sorted keys, no spaces) without ``hash``/``mac``. With a key, ``mac`` = HMAC-SHA256(key,
hash), so an attacker who rewrites the whole chain still cannot forge it. Editing, deleting,
inserting or reordering any record breaks the chain at that record, and ``verify`` names it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

GENESIS = "0" * 64


def canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k not in ("hash", "mac")}
    return hashlib.sha256(canonical(body)).hexdigest()


def record_mac(digest: str, key: bytes) -> str:
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


class JournalError(Exception):
    """The journal file cannot be appended to (its tail is not a valid record)."""


@dataclass(frozen=True)
class BadRecord:
    line: int
    seq: int | None
    reason: str

    def __str__(self) -> str:
        where = f"record seq={self.seq}" if self.seq is not None else "record"
        return f"line {self.line}: {where}: {self.reason}"


@dataclass(frozen=True)
class VerifyReport:
    path: Path
    records: int
    last_hash: str
    first_bad: BadRecord | None

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def _lines(handle: TextIO) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(handle, start=1):
        yield number, line.rstrip("\n")


def verify(path: Path, key: bytes | None = None) -> VerifyReport:
    """Walk the chain; stop at the first record that is not what the chain says it must be."""
    prev, expected_seq, count = GENESIS, 0, 0

    def report(bad: BadRecord | None) -> VerifyReport:
        return VerifyReport(path, count, prev, bad)

    with path.open(encoding="utf-8") as handle:
        for number, line in _lines(handle):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                return report(BadRecord(number, None, f"not JSON ({exc.msg})"))
            if not isinstance(record, dict):
                return report(BadRecord(number, None, "not a JSON object"))
            seq = record.get("seq")
            seq_value = seq if isinstance(seq, int) else None
            if seq != expected_seq:
                reason = f"seq {seq!r} where {expected_seq} was expected (deleted or reordered)"
                return report(BadRecord(number, seq_value, reason))
            if record.get("prev") != prev:
                return report(BadRecord(number, seq_value, "prev does not match the record before"))
            digest = record_hash(record)
            if record.get("hash") != digest:
                return report(
                    BadRecord(number, seq_value, "hash does not match its content (edited)")
                )
            if key is not None and not hmac.compare_digest(
                str(record.get("mac", "")), record_mac(digest, key)
            ):
                return report(BadRecord(number, seq_value, "mac does not verify with the key"))
            prev, expected_seq, count = digest, expected_seq + 1, count + 1
    return report(None)


class Journal:
    """Appends records to the chain; reopening continues the chain where it ended."""

    def __init__(self, path: Path, key: bytes | None = None, fsync: bool = False) -> None:
        self.path = path
        self._key = key
        self._fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size:
            tail = verify(path, key)
            if not tail.ok:
                raise JournalError(f"{path}: cannot append after a broken chain: {tail.first_bad}")
            self._seq, self._prev = tail.records, tail.last_hash
        else:
            self._seq, self._prev = 0, GENESIS
        self._handle = path.open("a", encoding="utf-8")

    @property
    def last_hash(self) -> str:
        return self._prev

    @property
    def records(self) -> int:
        return self._seq

    def append(
        self, kind: str, payload: Mapping[str, Any], ts: datetime | None = None
    ) -> dict[str, Any]:
        """Append one record (payload must be JSON-serializable) and return it."""
        moment = ts or datetime.now(UTC)
        record: dict[str, Any] = {
            "seq": self._seq,
            "ts": moment.isoformat().replace("+00:00", "Z"),
            "kind": kind,
            "payload": dict(payload),
            "prev": self._prev,
        }
        digest = record_hash(record)
        record["hash"] = digest
        if self._key is not None:
            record["mac"] = record_mac(digest, self._key)
        self._handle.write(canonical(record).decode() + "\n")
        self._handle.flush()
        if self._fsync:
            os.fsync(self._handle.fileno())
        self._seq += 1
        self._prev = digest
        return record

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read(path: Path) -> Iterator[dict[str, Any]]:
    """Every record, in order (verify first if the file may have been tampered with)."""
    with path.open(encoding="utf-8") as handle:
        for _, line in _lines(handle):
            record: dict[str, Any] = json.loads(line)
            yield record
