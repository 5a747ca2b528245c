"""A journal writer killed mid-batch: the batch is cut back to where it began, the chain holds,
and a batch written whole is not written again by the retried call."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trading.failure.checkpoint import StepCheckpoint, load_checkpoint, save_checkpoint
from trading.failure.journal_batches import BatchMarker, last_marker, mark, settle
from trading.journal.chain import Journal, verify

TS = datetime(2025, 10, 1, tzinfo=UTC)


def _write_batch(journal: Journal, markers: Path, batch: str, count: int) -> None:
    mark(markers, BatchMarker(batch, journal.records, journal.last_hash, count))
    for n in range(count):
        journal.append("note", {"batch": batch, "n": n}, ts=TS)


def _two_batches(tmp_path: Path) -> tuple[Path, Path]:
    path, markers = tmp_path / "journal.jsonl", tmp_path / "journal-batches.jsonl"
    journal = Journal(path)
    _write_batch(journal, markers, "step 1", 3)
    _write_batch(journal, markers, "step 2", 2)
    journal.close()
    return path, markers


def test_a_batch_written_whole_is_reported_done_and_left_alone(tmp_path: Path) -> None:
    path, markers = _two_batches(tmp_path)
    assert settle(path, markers) == "step 2"
    assert verify(path).records == 5


def test_a_batch_cut_short_is_truncated_to_its_start_and_the_chain_verifies(
    tmp_path: Path,
) -> None:
    path, markers = _two_batches(tmp_path)
    mark(markers, BatchMarker("step 3", 5, verify(path).last_hash, 4))
    with path.open("a") as handle:  # two of the four records, the second torn by the kill
        handle.write(json.dumps({"seq": 5}) + "\n" + '{"seq": 6, "ts"')
    assert settle(path, markers) is None
    report = verify(path)
    assert (report.ok, report.records) == (True, 5)
    reopened = Journal(path)  # appends continue the chain
    _write_batch(reopened, markers, "step 3", 4)
    reopened.close()
    assert verify(path).records == 9
    assert verify(path).ok


def test_a_torn_line_after_a_whole_batch_is_dropped(tmp_path: Path) -> None:
    path, markers = _two_batches(tmp_path)
    with path.open("a") as handle:
        handle.write('{"seq": 5')
    assert settle(path, markers) == "step 2"
    assert verify(path).ok
    assert verify(path).records == 5


def test_a_marker_from_another_journal_is_refused(tmp_path: Path) -> None:
    path, markers = _two_batches(tmp_path)
    mark(markers, BatchMarker("step 3", 4, "f" * 64, 3))
    with pytest.raises(ValueError, match="does not match the journal"):
        settle(path, markers)
    assert verify(path).records == 5, "nothing removed"


def test_no_markers_means_nothing_to_settle(tmp_path: Path) -> None:
    assert settle(tmp_path / "journal.jsonl", tmp_path / "m.jsonl") is None
    assert last_marker(tmp_path / "m.jsonl") is None


def test_checkpoint_round_trips_cursor_and_counters(tmp_path: Path) -> None:
    path = tmp_path / "desk.json"
    assert load_checkpoint(path).cursor is None
    checkpoint = StepCheckpoint(cursor=TS)
    checkpoint.progress.steps = 7
    save_checkpoint(checkpoint, path)
    loaded = load_checkpoint(path)
    assert (loaded.cursor, loaded.progress.steps) == (TS, 7)
    assert loaded.is_done(TS)
    assert not loaded.is_done(datetime(2025, 10, 2, tzinfo=UTC))
    assert not path.with_suffix(".json.tmp").exists()
