"""The paper exchange's public market data in Binance's shapes: ``exchangeInfo`` (spot and
USDⓈ-M), ``klines``, ``ticker/price``, ``ticker/24hr`` and ``depth``, read from the bars the
clock has reached (never a bar ahead of it). No I/O.

The paper book has one price, the current bar's close, where arriving orders trade: ``depth``
shows it on both sides with the share of the bar's volume still open to fills.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from trading.execution.gateway import InstrumentRules
from trading.execution.paper.bars import PaperBar
from trading.execution.paper.exchange import BinanceError, PaperExchange, required_param

INTERVALS_MS: Mapping[str, int] = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}
DAY_MS = 86_400_000
MAX_KLINES = 1_000  # Binance: limit defaults to 500, at most 1000


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def known_symbol(exchange: PaperExchange, params: Mapping[str, str]) -> str:
    """The ``symbol`` parameter, refused with -1121 unless the exchange lists it."""
    symbol = required_param(params, "symbol")
    if symbol not in exchange.bars:
        raise BinanceError(400, -1121, "Invalid symbol.")
    return symbol


def visible_bars(exchange: PaperExchange, symbol: str) -> list[PaperBar]:
    """The bars up to and including the current one (nothing the clock has not reached)."""
    bars = exchange.bars[symbol]
    return bars[: exchange.bar_index[symbol] + 1] if bars else []


def symbol_filters(rules: InstrumentRules, *, futures: bool) -> list[dict[str, Any]]:
    """PRICE_FILTER, LOT_SIZE and the notional filter (spot ``NOTIONAL``, futures
    ``MIN_NOTIONAL``) of the instrument table, as Binance lists them."""
    notional: dict[str, Any] = (
        {"filterType": "MIN_NOTIONAL", "notional": _text(rules.min_notional)}
        if futures
        else {
            "filterType": "NOTIONAL",
            "minNotional": _text(rules.min_notional),
            "applyMinToMarket": True,
            "maxNotional": "9000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        }
    )
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": _text(rules.tick_size),
            "maxPrice": "1000000",
            "tickSize": _text(rules.tick_size),
        },
        {
            "filterType": "LOT_SIZE",
            "minQty": _text(rules.min_quantity),
            "maxQty": "9000000",
            "stepSize": _text(rules.lot_size),
        },
        notional,
    ]


def _places(step: Decimal) -> int:
    return max(0, -int(step.normalize().as_tuple().exponent))


def spot_symbol_info(exchange: PaperExchange, symbol: str) -> dict[str, Any]:
    base, quote = exchange.assets[symbol]
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": list(exchange.order_types),
        "icebergAllowed": False,
        "ocoAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": symbol_filters(exchange.rules[symbol], futures=False),
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def futures_symbol_info(exchange: PaperExchange, symbol: str) -> dict[str, Any]:
    base, quote = exchange.assets[symbol]
    rules = exchange.rules[symbol]
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "baseAsset": base,
        "quoteAsset": quote,
        "marginAsset": quote,
        "pricePrecision": _places(rules.tick_size),
        "quantityPrecision": _places(rules.lot_size),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "orderTypes": list(exchange.order_types),
        "timeInForce": ["GTC", "IOC", "FOK"],
        "filters": symbol_filters(rules, futures=True),
    }


def exchange_info(
    exchange: PaperExchange, params: Mapping[str, str], *, futures: bool, server_time_ms: int
) -> dict[str, Any]:
    """``GET /api/v3/exchangeInfo`` (``symbol=`` or ``symbols=["A","B"]`` to narrow it) or
    ``GET /fapi/v1/exchangeInfo``; an unlisted symbol is -1121."""
    chosen: Sequence[str] = sorted(exchange.bars)
    if "symbol" in params:
        chosen = [known_symbol(exchange, params)]
    elif "symbols" in params:
        names = [n.strip().strip('"') for n in params["symbols"].strip("[]").split(",")]
        chosen = [known_symbol(exchange, {"symbol": n}) for n in names]
    describe = futures_symbol_info if futures else spot_symbol_info
    return {
        "timezone": "UTC",
        "serverTime": server_time_ms,
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
            }
        ],
        "exchangeFilters": [],
        "symbols": [describe(exchange, s) for s in chosen],
    }


def interval_ms(params: Mapping[str, str]) -> int:
    text = required_param(params, "interval")
    if text not in INTERVALS_MS:
        raise BinanceError(400, -1120, "Invalid interval.")
    return INTERVALS_MS[text]


def _optional_int(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.")
    return int(text)


def aggregate(bars: Sequence[PaperBar], step_ms: int) -> list[list[Any]]:
    """Bars grouped into ``step_ms`` buckets by open time: first open, highest high, lowest
    low, last close, summed volume. Quote volume is estimated as each bar's close x volume."""
    rows: list[list[Any]] = []
    buckets: dict[int, list[PaperBar]] = {}
    for bar in bars:
        buckets.setdefault(bar.open_time_ms - bar.open_time_ms % step_ms, []).append(bar)
    for open_ms, group in buckets.items():
        volume = sum((b.volume for b in group), Decimal(0))
        quote_volume = sum((b.close * b.volume for b in group), Decimal(0))
        rows.append(
            [
                open_ms,
                _text(group[0].open),
                _text(max(b.high for b in group)),
                _text(min(b.low for b in group)),
                _text(group[-1].close),
                _text(volume),
                open_ms + step_ms - 1,
                _text(quote_volume),
                0,
                "0",
                "0",
                "0",
            ]
        )
    return rows


def klines(exchange: PaperExchange, params: Mapping[str, str]) -> list[list[Any]]:
    """``GET klines``: bars of ``interval`` within ``startTime``/``endTime`` (by open time),
    the last ``limit`` of them (the first ``limit`` when ``startTime`` is given)."""
    symbol = known_symbol(exchange, params)
    step = interval_ms(params)
    limit = _optional_int(params, "limit") or 500
    if not 0 < limit <= MAX_KLINES:
        raise BinanceError(400, -1130, "Invalid data sent for a parameter: limit.")
    start = _optional_int(params, "startTime")
    end = _optional_int(params, "endTime")
    rows = [
        row
        for row in aggregate(visible_bars(exchange, symbol), step)
        if (start is None or row[0] >= start) and (end is None or row[0] <= end)
    ]
    return rows[:limit] if start is not None else rows[-limit:]


def ticker_price(exchange: PaperExchange, params: Mapping[str, str]) -> Any:
    """``GET ticker/price``: the last close of one symbol, or of every symbol as a list."""
    if "symbol" not in params:
        return [ticker_price(exchange, {"symbol": s}) for s in sorted(exchange.bars)]
    symbol = known_symbol(exchange, params)
    bars = visible_bars(exchange, symbol)
    price = _text(bars[-1].close) if bars else "0"
    return {"symbol": symbol, "price": price}


def ticker_24hr(exchange: PaperExchange, params: Mapping[str, str]) -> dict[str, Any]:
    """``GET ticker/24hr``: change, range and volume over the bars of the last 24 hours."""
    symbol = known_symbol(exchange, params)
    bars = visible_bars(exchange, symbol)
    if not bars:
        raise BinanceError(400, -1013, "Market is closed.")
    last = bars[-1]
    window = [b for b in bars if b.open_time_ms > last.open_time_ms - DAY_MS]
    first = window[0]
    change = last.close - first.open
    volume = sum((b.volume for b in window), Decimal(0))
    quote_volume = sum((b.close * b.volume for b in window), Decimal(0))
    budget = exchange.budget[symbol].left
    depth_qty = _text(budget) if budget is not None else "0"
    return {
        "symbol": symbol,
        "priceChange": _text(change),
        "priceChangePercent": _text((change / first.open * 100).quantize(Decimal("0.001"))),
        "weightedAvgPrice": _text(quote_volume / volume if volume else last.close),
        "prevClosePrice": _text(first.open),
        "lastPrice": _text(last.close),
        "lastQty": "0",
        "bidPrice": _text(last.close),
        "bidQty": depth_qty,
        "askPrice": _text(last.close),
        "askQty": depth_qty,
        "openPrice": _text(first.open),
        "highPrice": _text(max(b.high for b in window)),
        "lowPrice": _text(min(b.low for b in window)),
        "volume": _text(volume),
        "quoteVolume": _text(quote_volume),
        "openTime": first.open_time_ms,
        "closeTime": exchange.event_time_ms(),
        "firstId": -1,
        "lastId": -1,
        "count": 0,
    }


def depth(exchange: PaperExchange, params: Mapping[str, str]) -> dict[str, Any]:
    """``GET depth``: the paper book, one level a side at the last close."""
    symbol = known_symbol(exchange, params)
    bars = visible_bars(exchange, symbol)
    if not bars:
        return {"lastUpdateId": 0, "bids": [], "asks": []}
    budget = exchange.budget[symbol].left
    level = [_text(bars[-1].close), _text(budget if budget is not None else bars[-1].volume)]
    return {
        "lastUpdateId": exchange.bar_index[symbol] + 1,
        "E": exchange.event_time_ms(),
        "T": exchange.event_time_ms(),
        "bids": [level],
        "asks": [level],
    }
