"""Analyst prompts built from indicator snapshots, pattern hits, regime and timeframe.

The encoding is compact and canonical: price-like values become signed percent distances from
the close, oscillators round to integers, keys and patterns are sorted, numbers have a fixed
precision without trailing zeros. Equal market states therefore give byte-equal prompts, and the
SHA-256 of the versioned prompt is both the exact-cache key and the audit id of the request.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated

from pydantic import Field, model_validator

from trading.contracts import (
    Contract,
    Direction,
    IndicatorSnapshot,
    PatternHit,
    Regime,
    Symbol,
    Timeframe,
    UtcDatetime,
    field_error,
)
from trading.llm.opinion import ANSWER_SCHEMA

PROMPT_VERSION = "analyst-v1"

SYSTEM_PROMPT = (
    "You are a cautious crypto market analyst giving a second opinion on one symbol. "
    "Indicator lines: '<tf> close=<price>' then key=value; sma/ema/bb/vwap are signed % "
    "distance from close, atr is % of close, macd values are % of close, oscillators are raw. "
    "Pattern lines: '<tf> <KIND> <DIRECTION> conf=<0..1>' plus levels as % from close. "
    "You never size or place orders. Reply with one JSON object only, no prose, matching "
    f"this JSON schema: {json.dumps(ANSWER_SCHEMA, separators=(',', ':'), sort_keys=True)}. "
    "invalidation_level is the price that proves the view wrong (below close for LONG, above "
    "for SHORT), or null."
)

_PRICE_LIKE = ("sma_", "ema_", "bb_", "vwap")
_PERCENT_OF_CLOSE = ("atr_", "macd")
_OSCILLATORS = ("rsi_", "stoch_", "mfi_", "adx_", "plus_di_", "minus_di_", "cci_")
_SKIPPED = frozenset({"obv"})


class AnalysisRequest(Contract):
    """Everything the analyst sees about one symbol at one decision time."""

    symbol: Symbol
    timeframe: Annotated[Timeframe, Field(strict=False)]
    regime: Annotated[Regime, Field(strict=False)]
    snapshots: Annotated[tuple[IndicatorSnapshot, ...], Field(min_length=1)]
    patterns: tuple[PatternHit, ...] = ()
    request_class: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = "analysis"
    as_of: UtcDatetime | None = None

    @model_validator(mode="after")
    def _check_primary(self) -> AnalysisRequest:
        timeframes = [s.timeframe for s in self.snapshots]
        if self.timeframe not in timeframes:
            raise field_error(
                "AnalysisRequest",
                "snapshots",
                [tf.value for tf in timeframes],
                "missing_primary",
                f"no snapshot of the request timeframe {self.timeframe}",
            )
        if len(set(timeframes)) != len(timeframes):
            raise field_error(
                "AnalysisRequest",
                "snapshots",
                [tf.value for tf in timeframes],
                "duplicate",
                "two snapshots of one timeframe",
            )
        return self

    @property
    def primary(self) -> IndicatorSnapshot:
        return next(s for s in self.snapshots if s.timeframe is self.timeframe)

    @property
    def decided_at(self) -> datetime:
        """``as_of``, or the close time of the primary bar: the clock a cache TTL runs on."""
        return self.as_of or self.primary.bar_time + self.timeframe.duration


@dataclass(frozen=True, slots=True)
class Prompt:
    """A rendered, versioned prompt with its canonical hash and market-state bucket key."""

    version: str
    system: str
    user: str
    hash: str
    bucket: str
    request: AnalysisRequest

    @property
    def tokens_estimate(self) -> int:
        """About four characters per token, as the providers' tokenizers average on English."""
        return (len(self.system) + len(self.user)) // 4 + 1


def number(value: float, places: int) -> str:
    """Fixed ``places`` decimals, trailing zeros and a negative zero removed: one text per value."""
    text = f"{value:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def price_text(close: Decimal) -> str:
    """The close with six significant digits (enough to read levels, stable across feeds)."""
    value = float(close)
    digits = max(0, 5 - math.floor(math.log10(abs(value)))) if value else 0
    return number(value, digits)


def _encode_value(key: str, value: float, close: float) -> str:
    if key.startswith(_PRICE_LIKE):
        return number((value / close - 1.0) * 100.0, 2)
    if key.startswith(_PERCENT_OF_CLOSE):
        return number(value / close * 100.0, 3)
    if key.startswith(_OSCILLATORS):
        return number(value, 0)
    return number(value, 4)


def encode_values(values: Mapping[str, float], close: float) -> str:
    """``key=value`` pairs in key order, scaled to be comparable across symbols."""
    return " ".join(
        f"{key}={_encode_value(key, values[key], close)}"
        for key in sorted(values)
        if key not in _SKIPPED
    )


@lru_cache(maxsize=8192)
def _snapshot_line(
    timeframe: Timeframe, close: Decimal, items: tuple[tuple[str, float], ...]
) -> str:
    values = encode_values(dict(items), float(close))
    return f"{timeframe} close={price_text(close)} {values}".rstrip()


def encode_snapshot(snapshot: IndicatorSnapshot) -> str:
    """One line per snapshot; memoised on its content, as context snapshots repeat per bar."""
    items = tuple(sorted(snapshot.values.items()))
    return _snapshot_line(snapshot.timeframe, snapshot.close, items)


def encode_pattern(hit: PatternHit, close: float) -> str:
    levels = " ".join(
        f"{name}={number((float(level) / close - 1.0) * 100.0, 2)}"
        for name, level in sorted(hit.levels.items())
    )
    head = f"{hit.timeframe} {hit.kind} {hit.direction} conf={number(hit.confidence, 2)}"
    return f"{head} {levels}".rstrip()


def render_user(request: AnalysisRequest) -> str:
    """The user message: header, one line per timeframe, one per pattern, then the ask."""
    ordered = sorted(request.snapshots, key=lambda s: s.timeframe.seconds)
    lines = [
        f"v={PROMPT_VERSION} sym={request.symbol} tf={request.timeframe} regime={request.regime}",
        "ind:",
        *(encode_snapshot(s) for s in ordered),
    ]
    close = float(request.primary.close)
    patterns = sorted(
        request.patterns,
        key=lambda p: (p.timeframe.seconds, p.kind.value, p.direction.value, p.bar_time),
    )
    if patterns:
        lines.append("pat:")
        lines.extend(encode_pattern(p, close) for p in patterns)
    lines.append(f"Opinion for the next {request.timeframe} bars? JSON only.")
    return "\n".join(lines)


def _trend(values: Mapping[str, float], close: float) -> str:
    fast, slow, base = values.get("ema_12"), values.get("ema_26"), values.get("ema_50")
    if fast is None or slow is None or base is None:
        return "?"
    if fast > slow and close > base:
        return "U"
    if fast < slow and close < base:
        return "D"
    return "M"


def _zone(value: float | None, edges: tuple[float, ...]) -> str:
    if value is None:
        return "?"
    return str(sum(value >= edge for edge in edges))


def state_bucket(request: AnalysisRequest, *, include_symbol: bool) -> str:
    """Quantized market state: similar states share a key, so they share a cached answer.

    Primary timeframe: trend (EMA 12/26 and close vs EMA 50), RSI zone, MACD histogram sign,
    ADX strength, position within the Bollinger bands; higher timeframes: trend only;
    patterns: the set of kind/direction on the primary timeframe.
    """
    primary = request.primary
    close = float(primary.close)
    values = primary.values
    hist = values.get("macd_hist")
    upper, lower = values.get("bb_upper"), values.get("bb_lower")
    band = "?"
    if upper is not None and lower is not None and upper > lower:
        band = _zone((close - lower) / (upper - lower), (0.0, 0.5, 1.0))
    parts = [
        PROMPT_VERSION,
        request.symbol if include_symbol else "*",
        request.timeframe.value,
        request.regime.value,
        _trend(values, close),
        _zone(values.get("rsi_14"), (30.0, 45.0, 55.0, 70.0)),
        "?" if hist is None else ("+" if hist >= 0 else "-"),
        _zone(values.get("adx_14"), (20.0, 40.0)),
        band,
    ]
    for snapshot in sorted(request.snapshots, key=lambda s: s.timeframe.seconds):
        if snapshot.timeframe.seconds > request.timeframe.seconds:
            trend = _trend(snapshot.values, float(snapshot.close))
            parts.append(f"{snapshot.timeframe}{trend}")
    kinds = sorted(
        {
            f"{p.kind}:{p.direction.value[0]}"
            for p in request.patterns
            if p.timeframe is request.timeframe and p.direction is not Direction.NEUTRAL
        }
    )
    parts.append(",".join(kinds))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def build_prompt(request: AnalysisRequest, *, bucket_includes_symbol: bool = True) -> Prompt:
    """Render ``request``; the hash covers version, system and user text."""
    user = render_user(request)
    digest = hashlib.sha256(f"{PROMPT_VERSION}\n{SYSTEM_PROMPT}\n{user}".encode()).hexdigest()
    return Prompt(
        version=PROMPT_VERSION,
        system=SYSTEM_PROMPT,
        user=user,
        hash=digest,
        bucket=state_bucket(request, include_symbol=bucket_includes_symbol),
        request=request,
    )
