"""Chart and candlestick patterns: vectorized detectors and their streaming twin. No Ray here."""

from trading.patterns.config import PatternConfig
from trading.patterns.divergence import OSCILLATORS
from trading.patterns.hits import Detections, HitBlock, HitRow
from trading.patterns.pivots import Pivots, swing_pivots
from trading.patterns.scan import PatternStream, detect_bars, detect_patterns

__all__ = [
    "OSCILLATORS",
    "Detections",
    "HitBlock",
    "HitRow",
    "PatternConfig",
    "PatternStream",
    "Pivots",
    "detect_bars",
    "detect_patterns",
    "swing_pivots",
]
