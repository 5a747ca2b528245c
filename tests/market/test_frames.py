"""Reading CSV/Parquet bar files: real data, bad rows reported, good rows kept, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from trading.contracts import Timeframe
from trading.market.frames import BarFileError, read_bars

HEADER = "date,open,high,low,close,volume\n"


def write_csv(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return path


def test_real_csv_reads_with_known_first_bar_and_no_bad_rows(spot: Path) -> None:
    bar_file = read_bars(spot / "BTC_USDT-1h.csv", Timeframe.H1)
    assert bar_file.rows == bar_file.frame.height == 12_556
    assert bar_file.bad_rows == ()
    first = bar_file.frame.row(0)
    assert first == (
        datetime(2024, 9, 14, tzinfo=UTC),
        60497.99,
        60610.45,
        60372.77,
        60414.39,
        753.37252,
    )


def test_real_parquet_becomes_int64_epoch_ms_and_float64_columns(spot: Path) -> None:
    columns = read_bars(spot / "BTC_USDT-5m.parquet").columns()
    assert len(columns) == 119_784
    assert columns.open_time_ms.dtype == np.int64
    assert columns.open_time_ms[0] == 1_735_603_200_000  # 2024-12-31T00:00:00Z
    assert {
        c.dtype for c in (columns.open, columns.high, columns.low, columns.close, columns.volume)
    } == {np.dtype(np.float64)}
    assert columns.close[0] == 92782.39
    assert np.all(np.diff(columns.open_time_ms) == 300_000)


def test_bad_rows_are_reported_with_reasons_and_good_rows_kept(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bars.csv",
        "2024-09-14 00:00:00+00:00,10,12,9,11,5",
        "2024-09-14 01:00:00+00:00,abc,12,9,11,5",
        "2024-09-14 02:00:00+00:00,NaN,12,9,11,5",
        "2024-09-14 03:00:00+00:00,10,8,9,11,5",
        "2024-09-14 04:00:00+00:00,10,12,9,11,-1",
        "yesterday,10,12,9,11,5",
        "2024-09-14 06:00:00,10,12,9,11,5",
        "2024-09-14 07:00:00+00:00,10,12,9,11,",
        "2024-09-14 08:00:00+00:00,13,12,9,11,5",
        "2024-09-14 09:00:00+00:00,0,12,9,11,5",
        "2024-09-14T10:00:00Z,10,12,9,11,5",
    )
    bar_file = read_bars(path)
    assert bar_file.rows == 11
    assert {bad.row: bad.reasons for bad in bar_file.bad_rows} == {
        1: ("open abc is not a number",),
        2: ("open NaN is not finite",),
        3: ("high 8 is below low 9",),
        4: ("volume -1 is negative",),
        5: ("date yesterday is not a UTC timestamp",),
        6: ("date 2024-09-14 06:00:00 is not a UTC timestamp",),
        7: ("volume (empty) is not a number",),
        8: ("open 13 is outside [low 9, high 12]",),
        9: ("open 0 is not positive", "open 0 is outside [low 9, high 12]"),
    }
    assert bar_file.frame["date"].dt.hour().to_list() == [0, 10]
    assert bar_file.frame["close"].to_list() == [11.0, 11.0]


def test_misaligned_open_time_is_a_bad_row_only_against_a_timeframe(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bars.csv",
        "2024-09-14 00:00:00+00:00,10,12,9,11,5",
        "2024-09-14 00:30:00+00:00,10,12,9,11,5",
    )
    assert read_bars(path).bad_rows == ()
    (bad,) = read_bars(path, Timeframe.H1).bad_rows
    assert bad.row == 1
    assert bad.reasons == ("date 2024-09-14 00:30:00+00:00 is not on a 1h boundary",)


def test_non_utc_offset_is_rejected_not_converted(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bars.csv", "2024-09-14 02:00:00+02:00,10,12,9,11,5")
    (bad,) = read_bars(path).bad_rows
    assert bad.reasons == ("date 2024-09-14 02:00:00+02:00 is not a UTC timestamp",)


def test_parquet_nan_and_negative_volume_are_reported(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "date": [datetime(2025, 1, 1, h, tzinfo=UTC) for h in range(3)],
            "open": [1.0, float("nan"), 1.0],
            "high": [2.0, 2.0, 2.0],
            "low": [0.5, 0.5, 0.5],
            "close": [1.5, 1.5, 1.5],
            "volume": [3.0, 3.0, -3.0],
        }
    )
    frame.write_parquet(tmp_path / "bars.parquet")
    bar_file = read_bars(tmp_path / "bars.parquet", Timeframe.H1)
    assert [bad.row for bad in bar_file.bad_rows] == [1, 2]
    assert bar_file.frame.height == 1


def test_missing_file_raises_bar_file_error(tmp_path: Path) -> None:
    with pytest.raises(BarFileError, match="no such file"):
        read_bars(tmp_path / "absent.csv")


def test_missing_columns_are_named(tmp_path: Path) -> None:
    (tmp_path / "bars.csv").write_text("date,open,high\n2024-09-14 00:00:00+00:00,1,2\n")
    with pytest.raises(BarFileError, match=r"missing column\(s\) low, close, volume"):
        read_bars(tmp_path / "bars.csv")


def test_garbage_parquet_raises_bar_file_error(tmp_path: Path) -> None:
    (tmp_path / "bars.parquet").write_bytes(b"\x00garbage\xff" * 50)
    with pytest.raises(BarFileError, match="cannot read parquet"):
        read_bars(tmp_path / "bars.parquet")


def test_unsupported_suffix_raises_bar_file_error(tmp_path: Path) -> None:
    (tmp_path / "bars.json").write_text("{}")
    with pytest.raises(BarFileError, match=r"unsupported file type '\.json'"):
        read_bars(tmp_path / "bars.json")


def test_naive_parquet_datetimes_are_rejected(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"date": [datetime(2025, 1, 1)], "open": [1.0], "high": [1.0], "low": [1.0]}
        | {"close": [1.0], "volume": [1.0]}
    )
    frame.write_parquet(tmp_path / "bars.parquet")
    with pytest.raises(BarFileError, match="naive datetimes; open times must be UTC"):
        read_bars(tmp_path / "bars.parquet")
