"""Read OHLCV files (``date,open,high,low,close,volume``; date = open time, UTC) into frames.

Rows that fail validation are reported as ``BadRow`` and left out; every good row is kept, in
file order (ordering, duplicates and gaps are ``quality``'s business, not the reader's).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from trading.contracts import Timeframe

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = ("date", *PRICE_COLUMNS, "volume")

# Open times must carry a zero UTC offset: naive or non-UTC text is rejected, never converted.
_UTC_DATE = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(\+00:00|\+0000|Z)$"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class BarFileError(Exception):
    """A bar file that cannot be read at all: missing, unreadable, wrong format or columns."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BadRow:
    """A rejected data row: ``row`` is its 0-based index among the file's data rows."""

    row: int
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class BarColumns:
    """OHLCV as numpy columns: open time in epoch milliseconds, everything else float64."""

    open_time_ms: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return len(self.open_time_ms)

    def rows(self) -> Iterator[tuple[int, float, float, float, float, float]]:
        """Python rows (open time ms, open, high, low, close, volume), read column by column."""
        return zip(
            self.open_time_ms.tolist(),
            self.open.tolist(),
            self.high.tolist(),
            self.low.tolist(),
            self.close.tolist(),
            self.volume.tolist(),
            strict=True,
        )

    def take(self, rows: npt.NDArray[np.bool_] | npt.NDArray[np.int64] | slice) -> BarColumns:
        """The selected rows (a mask, indices or a slice), e.g. to cut gaps out of real data."""
        return BarColumns(
            self.open_time_ms[rows],
            self.open[rows],
            self.high[rows],
            self.low[rows],
            self.close[rows],
            self.volume[rows],
        )


@dataclass(frozen=True, slots=True)
class BarFile:
    """A file's good rows (``frame``: date as UTC datetime, floats) and its rejected rows."""

    path: Path
    frame: pl.DataFrame
    bad_rows: tuple[BadRow, ...]
    rows: int

    def columns(self) -> BarColumns:
        return frame_columns(self.frame)


def frame_columns(frame: pl.DataFrame) -> BarColumns:
    """Numpy columns of a validated frame (zero-copy where polars allows)."""
    return BarColumns(
        frame["date"].dt.epoch("ms").to_numpy().astype(np.int64, copy=False),
        *(
            frame[name].to_numpy().astype(np.float64, copy=False)
            for name in (*PRICE_COLUMNS, "volume")
        ),
    )


def read_bars(path: Path | str, timeframe: Timeframe | None = None) -> BarFile:
    """Read and validate a CSV or Parquet bar file; with ``timeframe``, also check alignment."""
    path = Path(path)
    raw = _read_raw(path)
    missing = [name for name in COLUMNS if name not in raw.columns]
    if missing:
        raise BarFileError(
            path, f"missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"
        )
    return _validate(path, raw.select(COLUMNS), timeframe)


def _read_raw(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise BarFileError(path, "no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema=False)
        if suffix == ".parquet":
            return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BarFileError(path, f"cannot read {suffix[1:]}: {first_line}") from exc
    raise BarFileError(path, f"unsupported file type {suffix or '(none)'!r}; use .csv or .parquet")


def _parsed_date(raw: pl.DataFrame) -> pl.Expr:
    if isinstance(raw.schema["date"], pl.Datetime):
        return pl.col("date").dt.cast_time_unit("us").dt.convert_time_zone("UTC")
    text = pl.col("date").cast(pl.String)
    parsed = text.str.to_datetime(strict=False, time_zone="UTC", time_unit="us")
    return pl.when(text.str.contains(_UTC_DATE)).then(parsed).otherwise(None)


def _validate(path: Path, raw: pl.DataFrame, timeframe: Timeframe | None) -> BarFile:
    dtype = raw.schema["date"]
    if isinstance(dtype, pl.Datetime) and dtype.time_zone not in ("UTC", "+00:00"):
        zone = dtype.time_zone or "naive"
        raise BarFileError(path, f"column date holds {zone} datetimes; open times must be UTC")
    numbers = [pl.col(name).cast(pl.Float64, strict=False).alias(name) for name in COLUMNS[1:]]
    typed = raw.with_row_index("row").with_columns(
        _parsed_date(raw).alias("date"),
        *numbers,
        *(pl.col(name).cast(pl.String).alias(f"{name}_text") for name in COLUMNS),
    )
    checks: list[tuple[pl.Expr, pl.Expr]] = [
        (pl.col("date").is_null(), _message("date", "is not a UTC timestamp")),
    ]
    for name in COLUMNS[1:]:
        value = pl.col(name)
        checks.append((value.is_null(), _message(name, "is not a number")))
        checks.append((~value.is_finite(), _message(name, "is not finite")))
    for name in PRICE_COLUMNS:
        checks.append((pl.col(name) <= 0, _message(name, "is not positive")))
    checks.append((pl.col("volume") < 0, _message("volume", "is negative")))
    high, low = pl.col("high"), pl.col("low")
    finite = pl.all_horizontal(pl.col(name).is_finite() for name in PRICE_COLUMNS)
    checks.append(
        (finite & (high < low), pl.format("high {} is below low {}", _text("high"), _text("low")))
    )
    for name in ("open", "close"):
        outside = (pl.col(name) < low) | (pl.col(name) > high)
        message = pl.format(
            f"{name} {{}} is outside [low {{}}, high {{}}]",
            _text(name),
            _text("low"),
            _text("high"),
        )
        checks.append((finite & outside & (high >= low), message))
    if timeframe is not None:
        ms = pl.col("date").dt.epoch("ms")
        checks.append(
            (
                (ms % (timeframe.seconds * 1000)) != 0,
                _message("date", f"is not on a {timeframe} boundary"),
            )
        )
    flags = [
        condition.fill_null(False).alias(f"check_{i}") for i, (condition, _) in enumerate(checks)
    ]
    texts = [message.alias(f"message_{i}") for i, (_, message) in enumerate(checks)]
    flagged = typed.with_columns(flags).with_columns(
        pl.any_horizontal(pl.col(f"check_{i}") for i in range(len(checks))).alias("bad")
    )
    bad = flagged.filter(pl.col("bad")).with_columns(texts)
    bad_rows = tuple(
        BadRow(
            int(record["row"]),
            tuple(record[f"message_{i}"] for i in range(len(checks)) if record[f"check_{i}"]),
        )
        for record in bad.iter_rows(named=True)
    )
    good = flagged.filter(~pl.col("bad")).select(COLUMNS)
    return BarFile(path, good, bad_rows, raw.height)


def _text(column: str) -> pl.Expr:
    return pl.col(f"{column}_text").fill_null("(empty)")


def _message(name: str, problem: str) -> pl.Expr:
    return pl.format(f"{name} {{}} {problem}", _text(name))
