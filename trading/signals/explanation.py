"""Human-readable reasons for a signal: one short phrase per pattern hit, timeframe and verdict."""

from __future__ import annotations

import math

from trading.contracts import PatternKind, Regime, Timeframe
from trading.patterns.hits import HitRow

_NAMES = {
    PatternKind.ENGULFING: "engulfing",
    PatternKind.MORNING_STAR: "morning star",
    PatternKind.EVENING_STAR: "evening star",
    PatternKind.RANGE_BREAKOUT: "range breakout",
    PatternKind.TREND_LINE_BREAK: "trend-line break",
    PatternKind.LEVEL_BREAK: "level break",
}


def price_text(value: float) -> str:
    """61,200 / 3.45 / 0.0123: thousands grouped, enough digits to tell levels apart."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"


def _side(direction: int) -> str:
    return "bullish" if direction > 0 else "bearish" if direction < 0 else "neutral"


def hit_phrase(row: HitRow) -> str:
    """e.g. "bullish engulfing at 61,200 support (3 touches)", "RSI regular bullish divergence"."""
    kind, side = row.kind, _side(row.direction)
    touches = int(row.components.get("touches", row.components.get("zone_touches", 0)))
    level = row.levels.get("level", row.levels.get("line", float("nan")))
    if kind in (PatternKind.PIN_BAR, PatternKind.ENGULFING, PatternKind.MORNING_STAR,
                PatternKind.EVENING_STAR):  # fmt: skip
        name = _NAMES.get(kind) or ("hammer" if row.direction > 0 else "shooting star")
        text = name if kind is PatternKind.PIN_BAR else f"{side} {name}"
        zone = row.levels.get("zone")
        if zone is not None:
            where = "support" if row.direction > 0 else "resistance"
            text += f" at {price_text(zone)} {where} ({touches} touches)"
        return text
    if kind in (PatternKind.SUPPORT, PatternKind.RESISTANCE):
        return f"{kind.value.lower()} held at {price_text(level)} ({touches} touches)"
    if kind in (PatternKind.RANGE_BREAKOUT, PatternKind.TREND_LINE_BREAK, PatternKind.LEVEL_BREAK):
        volume = row.components.get("volume_ratio")
        text = f"{side} {_NAMES[kind]} through {price_text(level)}"
        return text + (f" on {volume:.1f}x volume" if volume is not None else "")
    if kind is PatternKind.RETEST:
        return f"{side} retest of {price_text(level)} held"
    if kind is PatternKind.FALSE_BREAK:
        return f"false break of {price_text(level)} ({side})"
    if kind in (PatternKind.REGULAR_DIVERGENCE, PatternKind.HIDDEN_DIVERGENCE):
        source = next((k[3:].upper() for k in row.components if k.startswith("on_")), "")
        variant = "regular" if kind is PatternKind.REGULAR_DIVERGENCE else "hidden"
        return f"{source} {variant} {side} divergence".strip()
    if kind is PatternKind.TREND_LINE:
        line = "rising support" if row.direction > 0 else "falling resistance"
        return f"{line} line at {price_text(level)}"
    if kind is PatternKind.RANGE:
        low, high = row.levels.get("range_low", 0.0), row.levels.get("range_high", 0.0)
        return f"range {price_text(low)}-{price_text(high)}"
    return "doji" if kind is PatternKind.DOJI else "inside bar"


def timeframe_reason(timeframe: Timeframe, hits: list[HitRow], indicators: float) -> str:
    """``"4h: bullish engulfing at 61,200 support (3 touches); RSI regular bullish divergence"``,
    or the indicator reading when no pattern stands out."""
    if hits:
        return f"{timeframe.value}: " + "; ".join(hit_phrase(h) for h in hits)
    if not math.isfinite(indicators):
        return f"{timeframe.value}: indicators warming up"
    mood = "bullish" if indicators > 0.1 else "bearish" if indicators < -0.1 else "flat"
    return f"{timeframe.value}: indicators {mood} ({indicators:+.2f})"


def verdict_reasons(
    regime: Regime, high_volatility: bool, score: float, confidence: float, calibrated: bool
) -> list[str]:
    regime_text = f"regime {regime.value.capitalize()}" + (
        ", high volatility" if high_volatility else ""
    )
    how = "calibrated" if calibrated else "uncalibrated"
    return [regime_text, f"score {score:+.2f}; confidence {confidence:.2f} ({how})"]
