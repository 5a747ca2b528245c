"""Quality reports: gaps cut from real data, duplicates, order, bad rows, and the JSON shape."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.contracts import Timeframe
from trading.market.frames import BarFileError, read_bars
from trading.market.quality import check_bars, check_file, iso_utc

HOUR_MS = 3_600_000
REPORT_KEYS = {"rows", "first", "last", "gaps", "duplicates", "out_of_order", "bad_rows"}


@pytest.fixture
def btc_1h(spot: Path) -> pl.DataFrame:
    return pl.read_csv(spot / "BTC_USDT-1h.csv", infer_schema=False)


def test_real_file_is_clean_with_its_first_and_last_bar(spot: Path) -> None:
    report = check_file(spot / "BTC_USDT-1h.csv", Timeframe.H1).to_json()
    assert report == {
        "rows": 12_556,
        "first": "2024-09-14T00:00:00Z",
        "last": "2026-02-19T03:00:00Z",
        "gaps": [],
        "duplicates": [],
        "out_of_order": [],
        "bad_rows": [],
    }


def test_gap_cut_from_real_data_names_the_bars_around_the_hole(
    btc_1h: pl.DataFrame, tmp_path: Path
) -> None:
    cut = pl.concat([btc_1h[:100], btc_1h[103:500], btc_1h[524:]])
    cut.write_csv(tmp_path / "cut.csv")
    report = check_file(tmp_path / "cut.csv", Timeframe.H1).to_json()
    assert report["rows"] == 12_556 - 3 - 24
    assert report["gaps"] == [
        {"start": "2024-09-18T03:00:00Z", "end": "2024-09-18T07:00:00Z", "missing_bars": 3},
        {"start": "2024-10-04T19:00:00Z", "end": "2024-10-05T20:00:00Z", "missing_bars": 24},
    ]


def test_duplicates_and_out_of_order_rows_are_listed_in_file_order(
    btc_1h: pl.DataFrame, tmp_path: Path
) -> None:
    shuffled = pl.concat([btc_1h[:10], btc_1h[5:6], btc_1h[11:12], btc_1h[10:11], btc_1h[12:20]])
    shuffled.write_csv(tmp_path / "shuffled.csv")
    report = check_file(tmp_path / "shuffled.csv", Timeframe.H1).to_json()
    assert report["duplicates"] == ["2024-09-14T05:00:00Z"]
    assert report["out_of_order"] == ["2024-09-14T05:00:00Z", "2024-09-14T10:00:00Z"]
    assert report["gaps"] == []  # a swap is not a hole
    assert report["first"] == "2024-09-14T00:00:00Z"
    assert report["last"] == "2024-09-14T19:00:00Z"


def test_bad_row_is_reported_and_leaves_a_one_bar_gap(btc_1h: pl.DataFrame, tmp_path: Path) -> None:
    broken = btc_1h[:5].with_columns(
        pl.when(pl.int_range(pl.len()) == 2)
        .then(pl.lit("x"))
        .otherwise(pl.col("high"))
        .alias("high")
    )
    broken.write_csv(tmp_path / "broken.csv")
    report = check_file(tmp_path / "broken.csv", Timeframe.H1).to_json()
    assert report["rows"] == 5
    assert report["bad_rows"] == [{"row": 2, "reasons": ["high x is not a number"]}]
    assert report["gaps"] == [
        {"start": "2024-09-14T01:00:00Z", "end": "2024-09-14T03:00:00Z", "missing_bars": 1}
    ]


def test_misaligned_row_is_a_bad_row_of_the_checked_timeframe(spot: Path) -> None:
    report = check_file(spot / "BTC_USDT-1h.csv", Timeframe.H4)
    assert len(report.bad_rows) == 12_556 - 3_139
    assert report.bad_rows[0].reasons == ("date 2024-09-14 01:00:00+00:00 is not on a 4h boundary",)
    assert report.gaps == ()


def test_report_json_has_exactly_the_documented_keys(spot: Path) -> None:
    assert set(check_file(spot / "BTC_USDT-4h.csv", Timeframe.H4).to_json()) == REPORT_KEYS


def test_header_only_file_has_no_first_or_last(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("date,open,high,low,close,volume\n")
    report = check_file(tmp_path / "empty.csv", Timeframe.M5).to_json()
    assert report == {key: [] for key in REPORT_KEYS} | {"rows": 0, "first": None, "last": None}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("absent.csv", None, "no such file"),
        ("empty.csv", b"", "cannot read csv"),
        ("noise.csv", b"hello\nworld\n", "missing column"),
        ("noise.parquet", b"PAR1 not really", "cannot read parquet"),
    ],
)
def test_unreadable_file_raises_a_bar_file_error(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BarFileError, match=message) as raised:
        check_file(path, Timeframe.H1)
    assert raised.value.path == path
    assert str(raised.value).startswith(f"{path}: ")


@given(st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=80))
def test_report_counts_match_a_plain_python_reading_of_the_slots(slots: list[int]) -> None:
    times = np.array(slots, dtype=np.int64) * HOUR_MS
    report = check_bars(times, Timeframe.H1)
    ordered = sorted(set(slots))
    expected_gaps = [
        (iso_utc(a * HOUR_MS), iso_utc(b * HOUR_MS), b - a - 1)
        for a, b in itertools.pairwise(ordered)
        if b - a > 1
    ]
    assert [(g["start"], g["end"], g["missing_bars"]) for g in report.to_json()["gaps"]] == (
        expected_gaps
    )
    assert report.missing_bars == ordered[-1] - ordered[0] + 1 - len(ordered)
    assert len(report.duplicates) == len(slots) - len(ordered)
    descents = [b for a, b in itertools.pairwise(slots) if b < a]
    assert list(report.out_of_order) == [slot * HOUR_MS for slot in descents]
    assert report.rows == len(slots)
    assert (report.first_ms, report.last_ms) == (ordered[0] * HOUR_MS, ordered[-1] * HOUR_MS)


@given(
    st.sets(st.integers(min_value=0, max_value=287), max_size=60),
    st.sets(st.integers(min_value=0, max_value=287), max_size=10),
)
def test_gaps_and_duplicates_cut_into_real_bars_are_counted(
    cut: set[int], doubled: set[int]
) -> None:
    day = np.arange(288, dtype=np.int64) * 300_000 + 1_735_603_200_000
    kept = [i for i in range(288) if i not in cut]
    times = np.array(
        [t for i in kept for t in ([day[i], day[i]] if i in doubled else [day[i]])], dtype=np.int64
    )
    report = check_bars(times, Timeframe.M5)
    assert len(report.duplicates) == len(doubled - cut)
    assert report.out_of_order == ()
    if kept:
        assert report.missing_bars == sum(1 for i in cut if kept[0] < i < kept[-1])


def test_reader_and_report_agree_on_row_count(spot: Path) -> None:
    bar_file = read_bars(spot / "ETH_USDT-1d.csv", Timeframe.D1)
    assert check_file(spot / "ETH_USDT-1d.csv", Timeframe.D1).rows == bar_file.rows
