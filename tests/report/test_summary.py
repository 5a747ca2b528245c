"""The session summary's table takes its columns from the configured timeframes, and its RSI
from the regime timeframe: a non-default list gives exactly those columns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from trading.config import load_settings
from trading.contracts import IndicatorSnapshot, Timeframe
from trading.journal.chain import VerifyReport
from trading.report.progress import SymbolProgress
from trading.report.summary import SessionSummary, format_summary, write_summary
from trading.risk.drawdown import TradingState
from trading.risk.gate import RiskSummary

M1, M15, D1 = Timeframe.M1, Timeframe.M15, Timeframe.D1


@dataclass
class Progress:
    steps: int = 96
    base_bars: int = 2880
    signals: int = 96
    decisions: dict[str, int] = field(default_factory=lambda: {"APPROVED": 3, "DENIED": 1})
    orders: int = 3
    fills: int = 4
    error: str | None = None


def _summary(tmp_path: Path) -> SessionSummary:
    settings = load_settings()
    signals = settings.signals.model_copy(update={"regime_timeframe": D1})
    settings = settings.model_copy(
        update={"base_timeframe": M1, "timeframes": (M15, D1), "signals": signals}
    )
    snapshot = IndicatorSnapshot(
        symbol="BTC/USDT",
        timeframe=D1,
        bar_time=datetime(2025, 10, 1, tzinfo=UTC),
        close=Decimal("61000.5"),
        values={"rsi_14": 61.04, "ema_12": 60900.0},
    )
    return SessionSummary(
        elapsed_s=12.34,
        progress=Progress(),
        symbols=[
            SymbolProgress(
                "BTC/USDT",
                base_bars=1440,
                closed_bars={"15m": 96, "1d": 1, "1h": 24},
                last_close="61000.5",
            ),
            SymbolProgress("ETH/USDT", base_bars=1440, closed_bars={"15m": 96}),
        ],
        snapshots={"BTC/USDT": {"1d": snapshot}},
        risk=RiskSummary(
            state=TradingState.ACTIVE,
            trigger=None,
            equity=Decimal("100012.5"),
            balance=Decimal("100000"),
            gross_exposure=Decimal("610.126"),
            exposure_by_symbol={"BTC/USDT": Decimal("610.126")},
            day_peak=None,
            month_peak=None,
            open_positions=1,
            orders_in_flight=0,
        ),
        venue={"accepted": 3, "duplicate_attempts": 0},
        journal=VerifyReport(tmp_path / "journal.jsonl", 120, "ab" * 32, None),
        data_dir=tmp_path,
        settings=settings,
        positions={"BTC/USDT": Decimal("0.01")},
    )


def test_the_table_has_a_column_per_configured_timeframe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = format_summary(_summary(tmp_path)).splitlines()
    assert capsys.readouterr().out == ""  # rendered, not printed (the CLI prints it once)
    assert lines[0].split() == [
        "symbol", "1m", "bars", "15m", "1d", "last", "close", "position", "1d", "RSI"
    ]  # fmt: skip
    assert lines[2].split() == ["BTC/USDT", "1,440", "96", "1", "61000.5", "0.01", "61.0"]
    assert lines[3].split() == ["ETH/USDT", "1,440", "96", "0", "-", "0", "-"]
    assert "1h" not in lines[0]
    assert lines[5] == (
        "signals 96; risk decisions: approved 3, denied 1; orders sent 3; fills 4; "
        "venue accepted 3, duplicate client ids 0"
    )
    assert lines[6] == (
        "equity 100012.50 (balance 100000.00, gross exposure 610.13); trading state ACTIVE"
    )


def test_the_summary_file_holds_the_same_counts(tmp_path: Path) -> None:
    path = write_summary(_summary(tmp_path))
    document = json.loads(path.read_text())
    assert path == tmp_path / "run-summary.json"
    assert document["progress"]["fills"] == 4
    assert document["symbols"][0]["closed_bars"] == {"15m": 96, "1d": 1, "1h": 24}
    assert document["positions"] == {"BTC/USDT": "0.01"}
    assert document["journal"] == {
        "path": str(tmp_path / "journal.jsonl"),
        "records": 120,
        "intact": True,
    }
    assert document["snapshots"]["BTC/USDT"]["1d"]["values"]["rsi_14"] == 61.04
