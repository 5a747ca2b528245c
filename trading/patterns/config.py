"""Parameters of the chart-pattern detectors, with the memory they imply."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PatternConfig:
    """Lookbacks in bars, tolerances in multiples of the mean true range (``range_bars``)."""

    pivot_left: int = 5
    pivot_right: int = 3
    range_bars: int = 14
    zone_tolerance_atr: float = 0.5
    level_lookback: int = 200
    pivot_depth: int = 64
    box_bars: int = 20
    box_width_atr: float = 4.0
    box_efficiency: float = 0.3
    trend_span: int = 100
    volume_bars: int = 20
    volume_confirm: float = 1.5
    retest_bars: int = 10
    false_break_bars: int = 3
    divergence_min_gap: int = 5
    divergence_max_gap: int = 60
    divergence_window: int = 2
    window_bars: int = 500

    @property
    def memory_bars(self) -> int:
        """How many bars before ``t`` a hit known at ``t`` may depend on (the stream's floor)."""
        pivot = self.pivot_left + self.pivot_right + self.range_bars + 1
        levels = self.level_lookback + pivot
        trend = 2 * self.trend_span + pivot + self.retest_bars
        box = self.box_bars + self.range_bars + self.volume_bars + self.retest_bars + 2
        divergence = self.divergence_max_gap + pivot + self.divergence_window
        return max(levels + self.retest_bars + 1, trend, box, divergence)

    def __post_init__(self) -> None:
        if self.pivot_right < self.divergence_window:
            raise ValueError(
                f"pivot_right {self.pivot_right} must cover divergence_window "
                f"{self.divergence_window} (no look-ahead)"
            )
        if self.window_bars <= self.memory_bars:
            raise ValueError(
                f"window_bars {self.window_bars} must exceed memory_bars {self.memory_bars}"
            )
