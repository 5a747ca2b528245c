"""The paper exchange: a local Binance double matching orders against real bars.

``bars`` (``PaperBar``, loading and checks), ``exchange`` (orders, trades, account and
execution reports over ``trading.execution.matching``, no I/O), ``server`` (the aiohttp
Binance REST/WebSocket server with signatures and fault injection) and ``__main__`` (run it
alone). Importing this package loads no server: the backtest uses the exchange in-process.
"""

from trading.execution.paper.bars import BarError, PaperBar, load_bars, paper_bars
from trading.execution.paper.exchange import BinanceError, Faults, PaperExchange

__all__ = [
    "BarError",
    "BinanceError",
    "Faults",
    "PaperBar",
    "PaperExchange",
    "load_bars",
    "paper_bars",
]
