"""`raytrader data check FILE --timeframe TF`: JSON report on stdout, one-line error otherwise."""

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
    assert main(["data", "check", str(tmp_path / "cut.csv"), "--timeframe", "4h"]) == 0
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
    ok = subprocess.run(
        [exe, "data", "check", str(path), "--timeframe", "1m"], capture_output=True, text=True
    )
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
