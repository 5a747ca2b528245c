"""`raytrader data check FILE [--timeframe TF] [--json]`: a summary (or the JSON report) on
stdout, exit 1 when the file has problems, one-line error otherwise, quiet under a closed pipe."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from actors.cli import main


def test_data_check_prints_the_report_of_a_file_with_a_gap(
    spot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bars = pl.read_csv(spot / "BTC_USDT-4h.csv", infer_schema=False)
    pl.concat([bars[:10], bars[12:20]]).write_csv(tmp_path / "cut.csv")
    assert main(["data", "check", str(tmp_path / "cut.csv"), "--timeframe", "4h", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 18
    assert report["gaps"] == [
        {"start": "2024-09-24T12:00:00Z", "end": "2024-09-25T00:00:00Z", "missing_bars": 2}
    ]


def test_data_check_of_an_unreadable_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "absent.parquet"
    assert main(["data", "check", str(path), "--timeframe", "1h"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"data error: {path}: no such file\n"


def test_data_check_rejects_an_unknown_timeframe(spot: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["data", "check", str(spot / "BTC_USDT-1h.csv"), "--timeframe", "2h"])
    assert exited.value.code == 2


def test_console_script_checks_a_real_parquet_file(shared_data: Path, tmp_path: Path) -> None:
    exe = shutil.which("raytrader")
    assert exe, "the raytrader console script is not installed"
    path = shared_data / "binance_spot_1m_2026-03" / "ETH_USDT-1m.parquet"
    ok = subprocess.run([exe, "data", "check", str(path), "--json"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert (report["rows"], report["first"]) == (43_199, "2026-03-23T12:09:00Z")
    assert report["gaps"] == report["duplicates"] == report["bad_rows"] == []
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    failed = subprocess.run(
        [exe, "data", "check", str(garbage), "--timeframe", "1m"], capture_output=True, text=True
    )
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert failed.stderr.startswith(f"data error: {garbage}: cannot read parquet")
    assert failed.stderr.count("\n") == 1


def test_the_summary_counts_problems_lists_the_first_five_and_infers_the_timeframe(
    spot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The 4h file checked as 1h: every step looks like a gap of three bars."""
    path = tmp_path / "BTC_USDT-4h.csv"
    pl.read_csv(spot / "BTC_USDT-4h.csv", infer_schema=False).head(10).write_csv(path)
    assert main(["data", "check", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}: 10 rows at 4h, 2024-09-23T00:00:00Z .. 2024-09-24T12:00:00Z; 0 gaps "
        "(0 missing bars), 0 duplicates, 0 out of order, 0 bad rows\n"
    )
    assert main(["data", "check", str(path), "--timeframe", "1h"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "9 gaps (27 missing bars)" in lines[0]
    assert lines[1:] == [
        *(f"  gap: 2024-09-2{d}T{h:02d}:00:00Z -> {n}" for d, h, n in _first_gaps()),
        "  ... 4 more gaps (--json lists all)",
    ]


def _first_gaps() -> list[tuple[int, int, str]]:
    ends = ["2024-09-23T04:00:00Z", "2024-09-23T08:00:00Z", "2024-09-23T12:00:00Z"]
    ends += ["2024-09-23T16:00:00Z", "2024-09-23T20:00:00Z"]
    return [(3, 4 * i, end) for i, end in enumerate(ends)]


def test_a_name_without_timeframe_needs_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("date,open,high,low,close,volume\n")
    assert main(["data", "check", str(path)]) == 2
    assert capsys.readouterr().err == f"data error: {path}: no timeframe in the name: --timeframe\n"


def test_a_closed_pipe_ends_quietly(shared_data: Path) -> None:
    exe = shutil.which("raytrader")
    assert exe
    path = shared_data / "binance_spot_2024_2026" / "BTC_USDT-4h.csv"
    command = [exe, "data", "check", str(path), "--timeframe", "1h", "--json"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as check:
        assert check.stdout is not None
        head = subprocess.run(["head", "-1"], stdin=check.stdout, capture_output=True, text=True)
        check.stdout.close()  # head has exited: the next write of the check meets a closed pipe
        _, err = check.communicate(timeout=60)
    assert head.stdout == "{\n"
    assert err == b""
    assert check.returncode == 1
