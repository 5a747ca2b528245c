"""The backtest report's charts, drawn with Plotly: dated axes, percentages as percentages,
trades marked on the price. Each figure is an HTML fragment without the library; the report
loads ``plotly.min.js`` from its own directory (written beside it), so it works offline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from trading.backtest.metrics import drawdown
from trading.contracts import utc_from_ms
from trading.patterns.series import FloatArray, IntArray

PLOTLY_JS = "plotly.min.js"
MAX_POINTS = 4000  # per line: a year of 5m bars would make a report of tens of megabytes
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "height": 320,
    "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
    "hovermode": "x unified",
}


def plotly_js() -> str:
    """The Plotly library the report's ``<script src>`` names (written once per report dir)."""
    script: str = get_plotlyjs()
    return script


def dates(time_ms: IntArray) -> list[datetime]:
    return [utc_from_ms(t) for t in time_ms.tolist()]


def _thin(time_ms: IntArray, values: FloatArray) -> tuple[IntArray, FloatArray]:
    """At most ``MAX_POINTS`` samples, always keeping the last."""
    step = max(1, -(-len(time_ms) // MAX_POINTS))
    if step == 1:
        return time_ms, values
    keep = np.unique(np.append(np.arange(0, len(time_ms), step), len(time_ms) - 1))
    return time_ms[keep], values[keep]


def fragment(figure: go.Figure, div_id: str) -> str:
    html: str = figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id)
    return html


def equity_figure(time_ms: IntArray, equity: FloatArray) -> go.Figure:
    x, y = _thin(time_ms, equity)
    figure = go.Figure(go.Scatter(x=dates(x), y=y, name="equity", line={"color": "#1f77b4"}))
    figure.update_layout(title="Equity (quote currency)", **_LAYOUT)
    figure.update_yaxes(tickformat=",.0f")
    return figure


def drawdown_figure(time_ms: IntArray, equity: FloatArray) -> go.Figure:
    """Drawdown from the running peak, as a negative percentage."""
    x, y = _thin(time_ms, -drawdown(equity))
    area = go.Scatter(x=dates(x), y=y, name="drawdown", fill="tozeroy", line={"color": "#d62728"})
    figure = go.Figure(area)
    figure.update_layout(title="Drawdown", **_LAYOUT)
    figure.update_yaxes(tickformat=".2%")
    return figure


def price_figure(
    symbol: str, time_ms: IntArray, close: FloatArray, trades: Sequence[Mapping[str, Any]]
) -> go.Figure:
    """``symbol``'s close with each round trip's entry (triangle: up long, down short) and
    exit (cross; a trade still open at the end has none) marked at its price and time."""
    x, y = _thin(time_ms, close)
    figure = go.Figure(go.Scatter(x=dates(x), y=y, name=symbol, line={"color": "#555"}))
    ours = [t for t in trades if t.get("symbol") == symbol]
    for side, marker in (("BUY", "triangle-up"), ("SELL", "triangle-down")):
        entries = [t for t in ours if t.get("side") == side]
        if entries:
            figure.add_trace(_markers(entries, "entry", f"{side} entry", marker, "#2ca02c"))
    closed = [t for t in ours if t.get("exit_ms") is not None]
    if closed:
        figure.add_trace(_markers(closed, "exit", "exit", "x", "#d62728"))
    figure.update_layout(title=f"{symbol}: price and trades", **_LAYOUT)
    return figure


def _markers(
    trades: Sequence[Mapping[str, Any]], end: str, name: str, symbol: str, colour: str
) -> go.Scatter:
    return go.Scatter(
        x=[utc_from_ms(int(t[f"{end}_ms"])) for t in trades],
        y=[float(t[f"{end}_price"]) for t in trades],
        mode="markers",
        name=name,
        marker={"symbol": symbol, "size": 10, "color": colour},
        text=[f"PnL {float(t.get('pnl') or 0.0):,.2f}" for t in trades],
    )


def monthly_heatmap(monthly: Mapping[str, float]) -> go.Figure:
    """Years x months of ``YYYY-MM -> return``; months without a return stay blank."""
    years = sorted({month[:4] for month in monthly})
    z = [[monthly.get(f"{year}-{m:02d}") for m in range(1, 13)] for year in years]
    text = [["" if v is None else f"{v:.2%}" for v in row] for row in z]
    heat = go.Heatmap(
        z=z,
        x=list(MONTHS),
        y=years,
        text=text,
        texttemplate="%{text}",
        colorscale="RdYlGn",
        zmid=0,
        colorbar={"tickformat": ".1%"},
        hoverongaps=False,
    )
    figure = go.Figure(heat)
    figure.update_layout(title="Monthly returns", **(_LAYOUT | {"height": 120 + 40 * len(years)}))
    figure.update_yaxes(type="category")
    return figure
