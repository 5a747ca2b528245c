"""Shared test material: requests built from plausible snapshots, and settings aimed at a fake."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.llm.fake_provider import FakeProvider, Wire
from trading.config import ModelConfig, Provider, RouterSettings
from trading.contracts import (
    Direction,
    IndicatorSnapshot,
    PatternHit,
    PatternKind,
    Regime,
    Timeframe,
)
from trading.llm.prompt import AnalysisRequest

BAR_TIME = datetime(2025, 6, 2, 12, tzinfo=UTC)

BULLISH_1H = {
    "adx_14": 31.2,
    "atr_14": 412.5,
    "bb_lower": 63010.0,
    "bb_middle": 64005.0,
    "bb_upper": 65000.0,
    "ema_12": 64420.0,
    "ema_26": 64110.0,
    "ema_50": 63700.0,
    "macd": 310.0,
    "macd_hist": 45.0,
    "macd_signal": 265.0,
    "rsi_14": 61.3,
    "sma_20": 64005.0,
    "sma_50": 63500.0,
    "sma_200": 61000.0,
    "obv": 123456.0,
}

# (name, provider, wire of its fake tenant, usd in, usd out)
FIVE_MODELS: tuple[tuple[str, Provider, Wire, float, float], ...] = (
    ("claude", Provider.ANTHROPIC, "anthropic", 3.0, 15.0),
    ("gpt", Provider.OPENAI, "openai", 2.5, 10.0),
    ("mistral", Provider.MISTRAL, "mistral", 2.0, 6.0),
    ("gemini", Provider.OPENAI_COMPATIBLE, "openai", 0.1, 0.4),
    ("llama", Provider.OPENAI_COMPATIBLE, "openai", 0.88, 0.88),
)


def snapshot(
    close: float = 64500.0,
    timeframe: Timeframe = Timeframe.H1,
    bar_time: datetime = BAR_TIME,
    symbol: str = "BTC/USDT",
    values: Mapping[str, float] | None = None,
) -> IndicatorSnapshot:
    return IndicatorSnapshot(
        symbol=symbol,
        timeframe=timeframe,
        bar_time=bar_time,
        close=Decimal(repr(close)),
        values=dict(values or BULLISH_1H),
    )


def request(
    close: float = 64500.0,
    regime: Regime = Regime.BULL,
    request_class: str = "analysis",
    bar_time: datetime = BAR_TIME,
    patterns: tuple[PatternHit, ...] = (),
    values: Mapping[str, float] | None = None,
) -> AnalysisRequest:
    return AnalysisRequest(
        symbol="BTC/USDT",
        timeframe=Timeframe.H1,
        regime=regime,
        snapshots=(snapshot(close, bar_time=bar_time, values=values),),
        patterns=patterns,
        request_class=request_class,
    )


def pin_bar(direction: Direction = Direction.LONG, confidence: float = 0.8) -> PatternHit:
    return PatternHit(
        kind=PatternKind.PIN_BAR,
        direction=direction,
        symbol="BTC/USDT",
        timeframe=Timeframe.H1,
        bar_time=BAR_TIME,
        bar_index=120,
        levels={"support": Decimal("63900")},
        confidence=confidence,
    )


def fake_models(
    fake: FakeProvider, names: tuple[str, ...] | None = None
) -> tuple[ModelConfig, ...]:
    """ModelConfigs for the five fake tenants (added to ``fake`` if missing), in chain order."""
    table = {row[0]: row for row in FIVE_MODELS}
    models = []
    for name in names if names is not None else tuple(table):
        _, provider, wire, usd_in, usd_out = table[name]
        if name not in fake.tenants:
            fake.add(name, wire)
        models.append(
            ModelConfig(
                name=name,
                provider=provider,
                model=f"{name}-model",
                base_url=fake.base_url(name),
                credential_env=f"{name.upper()}_KEY",
                usd_per_mtok_in=usd_in,
                usd_per_mtok_out=usd_out,
            )
        )
    return tuple(models)


def fake_settings(
    fake: FakeProvider, names: tuple[str, ...] | None = None, **overrides: Any
) -> tuple[RouterSettings, dict[str, str]]:
    """Router settings whose chain is ``names`` (default all five) then offline, plus their keys."""
    models = fake_models(fake, names)
    chain = (*tuple(m.name for m in models), "offline")
    base: dict[str, Any] = {
        "models": models,
        "fallback_chain": chain,
        "request_classes": {
            "analysis": "cost_aware",
            "confirmation": "accuracy_first",
            "intraday": "latency_aware",
        },
        "attempt_timeout_ms": 1500,
        "request_timeout_ms": 4000,
    }
    base.update(overrides)
    environ = {m.credential_env: f"test-key-{m.name}" for m in models}
    return RouterSettings(**base), environ
