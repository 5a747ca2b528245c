"""Journal batches written exactly once across a journal writer's crash and Ray's retry.

Before a batch's records are appended, a marker (batch id, record count before it, head hash
before it, size) is appended to a side file. A writer that restarts settles the last marker: a
batch cut short by the crash (some of its records written, or a torn last line) is truncated back
to where it began, so the retried call writes it whole and the hash chain stays unbroken; a batch
written whole is remembered, so the retried call writes nothing."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from trading.journal.chain import GENESIS


@dataclass(frozen=True)
class BatchMarker:
    batch_id: str | None
    start: int  # the journal's record count before the batch
    prev: str  # the journal's head hash before the batch
    count: int


def _complete_lines(path: Path) -> list[bytes]:
    """The journal's newline-terminated lines (a torn last line is left out)."""
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    return lines[:-1]  # after the last newline: empty, or a line the crash tore


def last_marker(markers: Path) -> BatchMarker | None:
    """The last whole marker in the side file, if any."""
    lines = _complete_lines(markers)
    return BatchMarker(**json.loads(lines[-1])) if lines else None


def _truncate(journal: Path, records: int) -> None:
    kept = _complete_lines(journal)[:records]
    partial = journal.with_suffix(journal.suffix + ".tmp")
    partial.write_bytes(b"".join(line + b"\n" for line in kept))
    partial.replace(journal)


def settle(journal: Path, markers: Path) -> str | None:
    """Bring ``journal`` to a batch boundary after a crash; the id of the last batch written
    whole (None if there is none). Only records of the marked batch are ever removed."""
    marker = last_marker(markers)
    if marker is None:
        if journal.exists() and not journal.read_bytes().endswith(b"\n"):
            _truncate(journal, len(_complete_lines(journal)))
        return None
    whole = len(_complete_lines(journal))
    if whole >= marker.start + marker.count:
        if journal.exists() and not journal.read_bytes().endswith(b"\n"):
            _truncate(journal, whole)
        return marker.batch_id
    if whole >= marker.start:
        if _hash_at(journal, marker.start) != marker.prev:
            raise ValueError(f"{journal}: batch marker {marker} does not match the journal")
        _truncate(journal, marker.start)
    return None


def _hash_at(journal: Path, records: int) -> str:
    """The head hash of the journal's first ``records`` records."""
    if records == 0:
        return GENESIS
    digest: str = json.loads(_complete_lines(journal)[records - 1])["hash"]
    return digest


def mark(markers: Path, marker: BatchMarker) -> None:
    """Append ``marker``, flushed: a killed process has handed it to the OS."""
    with markers.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(marker)) + "\n")
        handle.flush()
