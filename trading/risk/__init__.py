"""The risk gate: sizing, exposure and correlation caps, drawdown SAFE_MODE, stops, leverage.

Pure and deterministic (no Ray): ``evaluate`` decides one ``OrderIntent`` against a
``Portfolio`` and a ``MarketView`` under a ``RiskPolicy``.
"""

from trading.risk.correlation import Correlations
from trading.risk.drawdown import DrawdownGuard, SafeModeTrigger, TradingState
from trading.risk.engine import (
    Mark,
    MarketView,
    RiskDecision,
    RiskPolicy,
    evaluate,
    flatten_intents,
    observe_equity,
)
from trading.risk.leverage import initial_margin, liquidation_price, stop_clears_liquidation
from trading.risk.portfolio import PendingOrder, Portfolio, apply_fill
from trading.risk.sizing import loss_per_unit, position_size, risk_pct
from trading.risk.stops import TrailingStop, atr_stop, take_profit_prices

__all__ = [
    "Correlations",
    "DrawdownGuard",
    "Mark",
    "MarketView",
    "PendingOrder",
    "Portfolio",
    "RiskDecision",
    "RiskPolicy",
    "SafeModeTrigger",
    "TradingState",
    "TrailingStop",
    "apply_fill",
    "atr_stop",
    "evaluate",
    "flatten_intents",
    "initial_margin",
    "liquidation_price",
    "loss_per_unit",
    "observe_equity",
    "position_size",
    "risk_pct",
    "stop_clears_liquidation",
    "take_profit_prices",
]
