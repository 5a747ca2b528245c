"""Columnar pattern detections and their conversion to ``PatternHit`` contracts.

A detection has two bars: ``pattern_at`` (where the pattern sits, e.g. the pivot bar) and
``known_at`` (the first bar at whose close it can be known). ``PatternHit.bar_index`` and
``bar_time`` are the ``known_at`` bar; ``components["lag_bars"]`` is the difference.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from trading.contracts import Direction, PatternHit, PatternKind, Timeframe, utc_from_ms
from trading.patterns.series import BoolArray, FloatArray, IntArray, SignArray

DIRECTIONS = {1: Direction.LONG, -1: Direction.SHORT, 0: Direction.NEUTRAL}


@dataclass(frozen=True)
class HitBlock:
    """Detections of one kind: parallel arrays, one row per hit."""

    kind: PatternKind
    direction: SignArray
    known_at: IntArray
    pattern_at: IntArray
    confidence: FloatArray
    levels: Mapping[str, FloatArray] = field(default_factory=dict)
    components: Mapping[str, FloatArray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.known_at)

    def take(self, rows: BoolArray | IntArray) -> HitBlock:
        return HitBlock(
            self.kind,
            self.direction[rows],
            self.known_at[rows],
            self.pattern_at[rows],
            self.confidence[rows],
            {k: v[rows] for k, v in self.levels.items()},
            {k: v[rows] for k, v in self.components.items()},
        )

    def shifted(self, offset: int) -> HitBlock:
        """The same hits with bar indices moved by ``offset`` (window -> series indices)."""
        return HitBlock(
            self.kind,
            self.direction,
            self.known_at + offset,
            self.pattern_at + offset,
            self.confidence,
            self.levels,
            self.components,
        )

    def rows(self) -> Iterator[HitRow]:
        for r in range(len(self)):
            yield HitRow(
                self.kind,
                int(self.direction[r]),
                int(self.known_at[r]),
                int(self.pattern_at[r]),
                float(self.confidence[r]),
                {k: float(v[r]) for k, v in self.levels.items() if math.isfinite(v[r])},
                {k: float(v[r]) for k, v in self.components.items() if math.isfinite(v[r])},
            )


def hit_block(
    kind: PatternKind,
    mask: BoolArray,
    direction: int | SignArray,
    confidence: FloatArray,
    *,
    lag: int = 0,
    levels: Mapping[str, FloatArray] | None = None,
    components: Mapping[str, FloatArray] | None = None,
    since: int = 0,
) -> HitBlock:
    """A block from per-bar arrays: one hit at every bar from ``since`` on where ``mask``
    holds (known there)."""
    at = np.flatnonzero(mask[since:]).astype(np.int64)
    if not len(at):
        return empty_block(kind)
    at += since
    sign = (
        np.full(len(at), direction, dtype=np.int8)
        if isinstance(direction, int)
        else direction[at].astype(np.int8)
    )
    return HitBlock(
        kind,
        sign,
        at,
        at - lag,
        confidence[at],
        {k: v[at] for k, v in (levels or {}).items()},
        {k: v[at] for k, v in (components or {}).items()},
    )


def empty_block(kind: PatternKind) -> HitBlock:
    none = np.zeros(0, dtype=np.int64)
    return HitBlock(kind, np.zeros(0, dtype=np.int8), none, none, np.zeros(0))


@dataclass(frozen=True)
class HitRow:
    """One detection as plain Python values (comparable, hashable-friendly)."""

    kind: PatternKind
    direction: int
    known_at: int
    pattern_at: int
    confidence: float
    levels: dict[str, float]
    components: dict[str, float]

    @property
    def key(self) -> tuple[object, ...]:
        return (
            self.kind,
            self.direction,
            self.known_at,
            self.pattern_at,
            self.confidence,
            tuple(sorted(self.levels.items())),
            tuple(sorted(self.components.items())),
        )


def _price(value: float) -> Decimal:
    return Decimal(repr(value))


@dataclass(frozen=True)
class Detections:
    """Every detector's hits over one series (or the hits known at one bar)."""

    blocks: tuple[HitBlock, ...]

    def __len__(self) -> int:
        return sum(len(b) for b in self.blocks)

    def of(self, *kinds: PatternKind) -> Detections:
        return Detections(tuple(b for b in self.blocks if b.kind in kinds))

    def known_at(self, bar: int) -> Detections:
        """Only the hits that became known at ``bar`` (blocks left empty are dropped)."""
        picked = []
        for block in self.blocks:
            rows = np.flatnonzero(block.known_at == bar)
            if len(rows):
                picked.append(block.take(rows))
        return Detections(tuple(picked))

    def known_since(self, bar: int) -> Detections:
        """Only the hits that became known at or after ``bar``."""
        return Detections(tuple(b.take(b.known_at >= bar) for b in self.blocks))

    def shifted(self, offset: int) -> Detections:
        return Detections(tuple(b.shifted(offset) for b in self.blocks))

    def rows(self) -> list[HitRow]:
        """All hits ordered by the bar they became known, then kind order, then pattern bar."""
        out = [row for block in self.blocks for row in block.rows()]
        order = {kind: i for i, kind in enumerate(PatternKind)}
        out.sort(key=lambda r: (r.known_at, order[r.kind], r.pattern_at, r.direction))
        return out

    def impulse(self, bars: int, weights: Mapping[PatternKind, float]) -> FloatArray:
        """Per-bar sum of direction x confidence x kind weight over hits known at that bar."""
        out = np.zeros(bars)
        for block in self.blocks:
            weight = weights.get(block.kind, 0.0)
            if weight and len(block):
                np.add.at(out, block.known_at, block.direction * block.confidence * weight)
        return out

    def to_hits(
        self, symbol: str, timeframe: Timeframe, open_time_ms: Sequence[int] | IntArray
    ) -> list[PatternHit]:
        """``PatternHit`` contracts; ``open_time_ms`` is indexed by ``known_at``."""
        hits = []
        for row in self.rows():
            components = dict(row.components)
            components["lag_bars"] = float(row.known_at - row.pattern_at)
            hits.append(
                PatternHit(
                    kind=row.kind,
                    direction=DIRECTIONS[row.direction],
                    symbol=symbol,
                    timeframe=timeframe,
                    bar_time=utc_from_ms(int(open_time_ms[row.known_at])),
                    bar_index=row.known_at,
                    levels={k: _price(v) for k, v in row.levels.items() if v > 0},
                    confidence=min(max(row.confidence, 0.0), 1.0),
                    components=components,
                )
            )
        return hits


EMPTY = Detections(())
