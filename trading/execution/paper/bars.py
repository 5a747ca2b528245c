"""The paper exchange's bars: ``PaperBar`` (OHLCV in ``Decimal``), read from shared-data files
or numpy columns, and the checks a bar passes before the exchange keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from trading.contracts import MarketBar, epoch_us

if TYPE_CHECKING:
    from trading.market.frames import BarColumns


@dataclass(frozen=True, slots=True)
class PaperBar:
    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @classmethod
    def of(cls, bar: MarketBar) -> PaperBar:
        """The exchange's copy of a closed bar from a feed."""
        open_ms = epoch_us(bar.open_time) // 1000
        return cls(open_ms, bar.open, bar.high, bar.low, bar.close, bar.volume)


class BarError(ValueError):
    """A bar the exchange cannot take, naming its field (``BTC/USDT[2].high``) and value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}={value!r}: {reason}")
        self.field, self.value, self.reason = field, value, reason


def check_bar(bar: PaperBar, where: str) -> None:
    """Raise ``BarError`` unless ``bar`` is finite, positive and its high and low hold it."""
    prices = {"open": bar.open, "high": bar.high, "low": bar.low, "close": bar.close}
    for name, value in (*prices.items(), ("volume", bar.volume)):
        if not isinstance(value, Decimal) or not value.is_finite():
            raise BarError(f"{where}.{name}", value, "expected a finite decimal")
    for name, value in prices.items():
        if value <= 0:
            raise BarError(f"{where}.{name}", value, "must be above 0")
    if bar.volume < 0:
        raise BarError(f"{where}.volume", bar.volume, "must be 0 or more")
    if bar.high < max(bar.open, bar.close, bar.low):
        raise BarError(f"{where}.high", bar.high, "below the bar's open, close or low")
    if bar.low > min(bar.open, bar.close):
        raise BarError(f"{where}.low", bar.low, "above the bar's open or close")


def paper_bars(columns: BarColumns) -> list[PaperBar]:
    """``PaperBar`` rows of numpy columns, prices exactly as the file's text."""
    return [PaperBar(int(t), *(Decimal(repr(v)) for v in values)) for t, *values in columns.rows()]


def load_bars(path: Path | str, start_row: int = 0, rows: int | None = None) -> list[PaperBar]:
    """Bars of a shared-data file (CSV or Parquet), validated by ``trading.market.frames``."""
    from trading.market.frames import read_bars

    columns = read_bars(path).columns()
    end = len(columns) if rows is None else start_row + rows
    return paper_bars(columns.take(slice(start_row, end)))
