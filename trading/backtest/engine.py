"""The backtest event loop: the live orchestrator's step sequence, in-process.

For each step time ``T`` (a closed step bar): the venue's clock moves to ``T``; each symbol's
``SymbolStep`` (analysis outputs of base bars opened before ``T``); then the live
``trade_step`` over the in-process risk gate and venue, driven without an event loop; then
funding. The desk, the risk gate, the analysis and the step are the live ones, so client ids,
and thus orders, are the live ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from trading.backtest.data import MarketData
from trading.backtest.signals import StepSeries, history_steps, stream_steps
from trading.backtest.trades import EntryNote, TradeRecord, round_trips
from trading.backtest.venues import (
    BacktestVenue,
    BacktestVenuePort,
    BarMatchingVenue,
    FillSettings,
    PaperExchangeVenue,
)
from trading.config import Settings, load_settings
from trading.contracts import (
    Fill,
    OrderDecision,
    OrderIntent,
    Timeframe,
    utc_from_ms,
)
from trading.execution.desk import SymbolStep, TradingDesk
from trading.execution.lifecycle import LifecycleSettings
from trading.execution.step import LocalRisk, run_now, trade_step
from trading.market.instruments import BINANCE_SPOT
from trading.risk.drawdown import TradingState
from trading.risk.engine import RiskPolicy
from trading.risk.gate import RiskGate, RiskRequest
from trading.risk.portfolio import Portfolio
from trading.signals.second_opinion import OpinionPort

SignalSource = Literal["history", "stream"]
VenueKind = Literal["sim", "paper"]


@dataclass(frozen=True)
class BacktestConfig:
    """One run: configuration, lifecycle, fill model, starting balance, and how to compute."""

    settings: Settings = field(default_factory=load_settings)
    lifecycle: LifecycleSettings | None = None
    fills: FillSettings | None = None  # None: the paper venue's rules at the config's fees
    initial_balance: Decimal = Decimal(100_000)
    signals: SignalSource = "history"
    venue: VenueKind = "sim"
    funding: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)
    skip_idle: bool = True  # False: every step through the desk (the skip's reference)
    # the LLM second opinion (answering without suspending, e.g. an in-process ``LLMRouter``):
    # signals are then streamed, each one reviewed as the live symbol actors review theirs
    opinions: OpinionPort | None = None

    def lifecycle_or_default(self) -> LifecycleSettings:
        return self.lifecycle or LifecycleSettings.from_settings(self.settings)

    def fills_or_default(self) -> FillSettings:
        return self.fills or FillSettings.from_settings(self.settings)


class UnknownParameterError(KeyError):
    """A grid parameter names no field of signals/risk/lifecycle/fills/run."""


def with_params(config: BacktestConfig, params: Mapping[str, Any]) -> BacktestConfig:
    """``config`` with dotted overrides: ``signals.direction_threshold``, ``risk.X``,
    ``lifecycle.min_confidence``, ``fills.slippage_bps``, ``run.initial_balance``."""
    settings, lifecycle = config.settings, config.lifecycle_or_default()
    fills = config.fills_or_default()
    run: dict[str, Any] = {}
    signal_updates: dict[str, Any] = {}
    risk_updates: dict[str, Any] = {}
    life_updates: dict[str, Any] = {}
    fill_updates: dict[str, Any] = {}
    targets = {
        "signals": (signal_updates, set(type(settings.signals).model_fields)),
        "risk": (risk_updates, set(type(settings.risk).model_fields)),
        "lifecycle": (life_updates, {f.name for f in fields(LifecycleSettings)}),
        "fills": (fill_updates, {f.name for f in fields(FillSettings)}),
        "run": (run, {"initial_balance"}),
    }
    for key, value in params.items():
        section, _, name = key.partition(".")
        if section not in targets or name not in targets[section][1]:
            raise UnknownParameterError(f"grid parameter {key!r}: no such field")
        targets[section][0][name] = value
    if signal_updates or risk_updates:
        settings = Settings.model_validate(
            {
                **settings.model_dump(),
                "signals": {**settings.signals.model_dump(), **signal_updates},
                "risk": {**settings.risk.model_dump(), **risk_updates},
            }
        )
        if risk_updates and config.lifecycle is None:
            lifecycle = LifecycleSettings.from_settings(settings)
    decimal_fields = {"atr_stop_multiple", "trail_atr_multiple", "breakeven_after_r"}
    life: dict[str, Any] = {
        k: Decimal(str(v)) if k in decimal_fields else v for k, v in life_updates.items()
    }
    lifecycle = replace(lifecycle, **life)
    fill_decimals = {"volume_share", "maker_fee_rate", "taker_fee_rate", "slippage_bps"}
    fill: dict[str, Any] = {
        k: Decimal(str(v)) if k in fill_decimals and v is not None else v
        for k, v in fill_updates.items()
    }
    fills = replace(fills, **fill)
    balance = Decimal(str(run.get("initial_balance", config.initial_balance)))
    return replace(
        config,
        settings=settings,
        lifecycle=lifecycle,
        fills=fills,
        initial_balance=balance,
        params={**config.params, **params},
    )


@dataclass
class BacktestResult:
    """Everything a run produced: per-step equity, orders, decisions, fills, round trips."""

    symbols: tuple[str, ...]
    step: Timeframe
    time_ms: np.ndarray[Any, np.dtype[np.int64]]
    equity: np.ndarray[Any, np.dtype[np.float64]]
    gross_exposure: np.ndarray[Any, np.dtype[np.float64]]
    orders: list[OrderIntent]
    decisions: list[OrderDecision]
    fills: list[Fill]
    trades: list[TradeRecord]
    funding_paid: float
    initial_balance: float
    base_bars: int
    params: Mapping[str, Any]


def symbol_steps(data: MarketData, config: BacktestConfig) -> dict[str, StepSeries]:
    """Each symbol's per-step analysis outputs (vectorized, or streamed: always with an
    opinion port)."""
    settings = config.settings
    if config.signals == "history" and config.opinions is None:
        return {
            symbol: history_steps(symbol, bars, data.base, settings.timeframes, settings.signals)
            for symbol, bars in data.bars.items()
            if len(bars)
        }
    return {
        symbol: stream_steps(
            symbol, bars, data.base, settings.timeframes, settings.signals, config.opinions
        )
        for symbol, bars in data.bars.items()
        if len(bars)
    }


def _decimal(value: float) -> Decimal | None:
    return Decimal(repr(value)) if np.isfinite(value) else None


def run_backtest(
    data: MarketData, config: BacktestConfig, steps: Mapping[str, StepSeries] | None = None
) -> BacktestResult:
    """Replay ``data`` through analysis, desk, risk and a venue; see the module docstring."""
    steps = dict(steps) if steps is not None else symbol_steps(data, config)
    settings = config.settings
    instruments = {s: BINANCE_SPOT[s.partition(":")[0]] for s in data.bars}
    desk = TradingDesk.from_settings(settings, instruments, config.lifecycle_or_default())
    risk = RiskGate(
        RiskPolicy.from_settings(settings, instruments), Portfolio(balance=config.initial_balance)
    )
    venue: BacktestVenue
    fill_settings = config.fills_or_default()
    if config.venue == "paper":
        venue = PaperExchangeVenue(
            data.bars,
            volume_share=fill_settings.volume_share or Decimal(1),
            maker_fee_rate=fill_settings.maker_fee_rate,
            taker_fee_rate=fill_settings.taker_fee_rate,
        )
    else:
        venue = BarMatchingVenue(data.bars, instruments, fill_settings)
    risk_port, venue_port = LocalRisk(risk), BacktestVenuePort(venue)
    empty = np.zeros(0, dtype=np.int64)
    series_times = [s.time_ms for s in steps.values()]
    # one symbol's step times are already sorted and distinct
    times = (
        series_times[0]
        if len(series_times) == 1
        else np.unique(np.concatenate(series_times or [empty]))
    )
    wake = _signal_steps(steps, times, desk.lifecycle.settings.min_confidence)
    recorded = dict.fromkeys(steps, 0)  # each symbol's step closes the desk has seen
    # row of each step time in a symbol's series, -1 where the symbol has no step then
    rows = {symbol: _rows(series.time_ms, times) for symbol, series in steps.items()}
    funding = {s: f for s, f in data.funding.items() if config.funding and s in steps}
    funding_at = dict.fromkeys(funding, 0)
    equity = np.empty(len(times))
    gross = np.empty(len(times))
    orders: list[OrderIntent] = []
    decisions: list[OrderDecision] = []
    fills: list[Fill] = []
    notes: dict[str, EntryNote] = {}
    funding_paid = Decimal(0)
    timeframes = settings.timeframes
    k = 0
    while k < len(times):
        t_ms = int(times[k])
        now = utc_from_ms(t_ms)
        venue.advance_to(t_ms)
        step_list: list[SymbolStep] = []
        at: dict[str, int] = {}
        for symbol, series in steps.items():
            i = int(rows[symbol][k])
            if i >= 0:
                at[symbol] = i
                desk.record_closes(symbol, series.bars.close[recorded[symbol] : i])
                recorded[symbol] = i + 1
                base = data.bars[symbol]
                step_list.append(
                    SymbolStep(
                        symbol,
                        now,
                        step_bar=series.step_bar(i),
                        signal=series.signal(i, timeframes),
                        atr=_decimal(float(series.atr[i])),
                        last_close=Decimal(repr(float(base.close[series.base_end[i] - 1]))),
                    )
                )
        result = run_now(trade_step(desk, risk_port, venue_port, step_list, now))
        orders.extend(result.orders)
        decisions.extend(result.decisions)
        _note_entries(notes, result.requests, steps, at)
        fills.extend(result.fills)
        for symbol, rates in funding.items():
            j = funding_at[symbol]
            while j < len(rates.time_ms) and rates.time_ms[j] <= t_ms:
                position = risk.portfolio.positions.get(symbol)
                mark = risk.market.marks.get(symbol)
                if position is not None and position.quantity and mark is not None:
                    paid = position.quantity * mark.price * Decimal(repr(float(rates.rate[j])))
                    risk.portfolio.balance -= paid
                    funding_paid += paid
                j += 1
            funding_at[symbol] = j
        after = risk.summary()
        equity[k] = float(after.equity)
        gross[k] = float(after.gross_exposure)
        k += 1
        if config.skip_idle and _idle(desk, risk):
            # nothing can happen before the next signal strong enough to act on: the steps in
            # between keep this equity, and funding events there find no position
            wake_k = int(wake[np.searchsorted(wake, k)]) if k <= wake[-1] else len(times)
            if wake_k > k:
                equity[k:wake_k], gross[k:wake_k] = equity[k - 1], gross[k - 1]
                for symbol, rates in funding.items():
                    funding_at[symbol] = max(
                        funding_at[symbol],
                        int(np.searchsorted(rates.time_ms, times[wake_k - 1], side="right")),
                    )
                k = wake_k
    return BacktestResult(
        symbols=tuple(steps),
        step=min(timeframes, key=lambda tf: tf.seconds),
        time_ms=times,
        equity=equity,
        gross_exposure=gross,
        orders=orders,
        decisions=decisions,
        fills=fills,
        trades=round_trips(fills, notes),
        funding_paid=float(funding_paid),
        initial_balance=float(config.initial_balance),
        base_bars=data.bar_count,
        params=dict(config.params),
    )


def _note_entries(
    notes: dict[str, EntryNote],
    requests: list[RiskRequest],
    steps: Mapping[str, StepSeries],
    at: Mapping[str, int],
) -> None:
    """Remember what each entry was based on (stop, confidence, patterns, regime)."""
    for request in requests:
        if request.stop_price is None:
            continue
        symbol = request.intent.symbol
        series, i = steps[symbol], at[symbol]
        notes[request.intent.client_order_id] = EntryNote(
            stop_price=float(request.stop_price),
            confidence=request.confidence,
            patterns=series.patterns[i],
            regime=float(series.regime[i]),
            timeframe=series.step.value,
        )


def _signal_steps(
    steps: Mapping[str, StepSeries],
    times: np.ndarray[Any, np.dtype[np.int64]],
    min_confidence: float,
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Indices into ``times`` where some symbol's signal is directional and confident enough
    for the lifecycle to act on (enter when flat, exit on a reversal); a sentinel at the end."""
    acting = [
        s.time_ms[(s.direction != 0) & (s.confidence >= min_confidence)] for s in steps.values()
    ]
    at = np.searchsorted(times, np.unique(np.concatenate([*acting, times[:0]])))
    return np.append(at, len(times)).astype(np.int64)


def _rows(
    time_ms: np.ndarray[Any, np.dtype[np.int64]], times: np.ndarray[Any, np.dtype[np.int64]]
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """For each of ``times``, its index in ``time_ms`` (-1 where absent)."""
    found = np.minimum(np.searchsorted(time_ms, times), max(len(time_ms) - 1, 0))
    hit = (found < len(time_ms)) & (time_ms[found] == times) if len(time_ms) else found < 0
    return np.where(hit, found, -1).astype(np.int64)


def _idle(desk: TradingDesk, risk: RiskGate) -> bool:
    """Flat and calm: no trade, order or position, and risk ACTIVE (no SAFE_MODE to release)."""
    portfolio = risk.portfolio
    return (
        not desk.state.open_orders
        and not desk.lifecycle.state.trades
        and not portfolio.pending
        and not portfolio.open_positions()
        and portfolio.drawdown.state is TradingState.ACTIVE
    )
