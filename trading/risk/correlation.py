"""Rolling correlation of returns between symbols: computed once per bar, looked up per intent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

_EMPTY: Mapping[str, float] = MappingProxyType({})


class Correlations:
    """Pearson correlation of log returns over the last ``window`` bars, per symbol pair.

    Pairs missing from the table (too little history, a constant price) count as uncorrelated.
    """

    __slots__ = ("_clusters", "_rows")

    def __init__(self, pairs: Mapping[tuple[str, str], float] | None = None) -> None:
        rows: dict[str, dict[str, float]] = {}
        for (a, b), rho in (pairs or {}).items():
            if a != b and np.isfinite(rho):
                rows.setdefault(a, {})[b] = float(rho)
                rows.setdefault(b, {})[a] = float(rho)
        self._rows = rows
        self._clusters: dict[tuple[str, float], dict[str, float]] = {}

    @classmethod
    def from_closes(cls, closes: Mapping[str, ArrayLike], window: int) -> Correlations:
        """From close prices sampled on the same bar times (newest last), one series per symbol."""
        names: list[str] = []
        series: list[np.ndarray] = []
        for symbol, values in closes.items():
            prices = np.asarray(values, dtype=np.float64)
            if prices.size < window + 1 or not np.all(np.isfinite(prices[-window - 1 :])):
                continue
            names.append(symbol)
            series.append(np.diff(np.log(prices[-window - 1 :])))
        if len(series) < 2:
            return cls()
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix = np.corrcoef(np.vstack(series))
        pairs = {
            (names[i], names[j]): float(matrix[i, j])
            for i in range(len(names))
            for j in range(i + 1, len(names))
        }
        return cls(pairs)

    def get(self, a: str, b: str) -> float | None:
        return self._rows.get(a, _EMPTY).get(b)

    def row(self, symbol: str) -> Mapping[str, float]:
        """Correlation of ``symbol`` with every other known symbol."""
        return self._rows.get(symbol, _EMPTY)

    def cluster_row(self, symbol: str, threshold: float) -> Mapping[str, float]:
        """Symbols with ``|rho| >= threshold`` to ``symbol`` (memoized: the table is immutable)."""
        key = (symbol, threshold)
        row = self._clusters.get(key)
        if row is None:
            row = {s: r for s, r in self.row(symbol).items() if abs(r) >= threshold}
            self._clusters[key] = row
        return row

    def symbols(self) -> Sequence[str]:
        return sorted(self._rows)
