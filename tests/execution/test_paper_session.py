"""``venue.kind: binance_spot`` on Ray, its REST base pointed at a separately started paper
exchange: the production code path (no paper actor; instruments from its exchangeInfo, orders
signed over HTTP) sends, fills and journals orders, with no client id sent twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.execution import EXECUTION_ACTOR
from actors.journal import JOURNAL_ACTOR
from actors.risk import RISK_ACTOR
from actors.run_loop import run_session
from actors.session import SessionOptions
from trading.config import VenueKind, load_settings
from trading.contracts import Fill
from trading.journal.recorder import replay
from trading.market.instruments import UnlistedSymbolError

pytestmark = pytest.mark.ray

BARS = 450


def test_binance_spot_session_trades_on_a_separately_started_paper_exchange(
    ray_session: Any, paper_with_futures: str, tmp_path: Path
) -> None:
    """Signed REST orders and the user data subscribed on the WebSocket API, as on Binance."""
    settings = load_settings()
    venue = settings.venue.model_copy(
        update={
            "kind": VenueKind.BINANCE_SPOT,
            "rest_url": paper_with_futures,
            "api_key_env": KEY_ENV,
            "api_secret_env": SECRET_ENV,
        }
    )
    features = settings.features.model_copy(update={"llm_opinion": False})
    settings = settings.model_copy(
        update={"venue": venue, "features": features, "symbols": ["BTC/USDT", "ETH/USDT"]}
    )
    summary = run_session(
        SessionOptions(settings=settings, data_dir=tmp_path, max_bars=BARS, poll_s=0.2)
    )

    assert summary.progress.error is None
    assert summary.venue == {}, "no paper actor: the venue is the process at venue.rest_url"
    stats = paper_stats(paper_with_futures)
    assert stats["ws_api_subscriptions"] >= 1, "user data came by the WebSocket API"
    assert summary.progress.orders > 0
    assert stats["accepted"] == summary.progress.orders
    assert stats["duplicate_attempts"] == 0
    assert summary.progress.fills >= summary.progress.orders
    assert_fills_journaled_once(summary, stats)


def assert_fills_journaled_once(summary: Any, account: dict[str, Any]) -> None:
    """Every fill the exchange made is journaled once; positions equal the journaled fills."""
    fills = [f for f in replay(summary.journal_path, frozenset({"fill"})) if isinstance(f, Fill)]
    assert 0 < len(fills) == summary.progress.fills
    net: dict[str, Decimal] = {}
    for fill in fills:
        net[fill.symbol] = net.get(fill.symbol, Decimal(0)) + fill.quantity * fill.side.sign
    assert {s: q for s, q in net.items() if q} == {s: q for s, q in summary.positions.items() if q}
    filled = {
        cid: Decimal(o["executed"])
        for cid, o in account["orders"].items()
        if Decimal(o["executed"])
    }
    journaled: dict[str, Decimal] = {}
    for fill in fills:
        journaled[fill.client_order_id] = journaled.get(fill.client_order_id, Decimal(0))
        journaled[fill.client_order_id] += fill.quantity
    assert journaled == filled, "every fill the exchange made is journaled, once"


def test_a_symbol_the_venue_does_not_list_stops_the_start_by_name(
    ray_session: Any, paper_process: Callable[..., Any], tmp_path: Path
) -> None:
    paper = paper_process()
    settings = load_settings()
    venue = settings.venue.model_copy(
        update={"kind": VenueKind.BINANCE_SPOT, "rest_url": paper.url}
    )
    settings = settings.model_copy(update={"venue": venue, "symbols": ["BTC/USDT", "SOL/USDT"]})
    with pytest.raises(UnlistedSymbolError, match="binance_spot does not list SOL/USDT as"):
        run_session(SessionOptions(settings=settings, data_dir=tmp_path, max_bars=10))
    started = set(ray_session.util.list_named_actors())
    assert not started & {JOURNAL_ACTOR, RISK_ACTOR, EXECUTION_ACTOR}, "refused before any actor"


BUNDLED = Path(__file__).resolve().parents[2] / "trading" / "market" / "bundled"
SYMBOLS = ("BTC/USDT", "ETH/USDT")
KEY_ENV = "RAYTRADER_PAPER_TEST_KEY"
SECRET_ENV = "RAYTRADER_PAPER_TEST_SECRET"  # noqa: S105  # pragma: allowlist secret
# Set at import, before the session's Ray starts: its workers inherit the variables, and the
# execution actor reads the credentials in its own process, as from the real environment.
os.environ.setdefault(KEY_ENV, "paperKEY" * 8)
os.environ.setdefault(SECRET_ENV, "paperSECRET0" * 5 + "abcd")


@pytest.fixture
def paper_with_futures() -> Iterator[str]:
    """``python -m trading.execution.paper --futures`` over the bundled bars the session
    replays (spot under ``/api``, USDⓈ-M perpetuals under ``/fapi``), signed; its URL."""
    data = [f"--data={s}={BUNDLED / (s.replace('/', '_') + '-5m.parquet')}" for s in SYMBOLS]
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "trading.execution.paper", "--port", "0", "--futures"),
            *(f"--credentials-env={KEY_ENV}:{SECRET_ENV}", *data),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("PAPER LISTENING"), line
    yield f"http://127.0.0.1:{int(line.split()[-1])}"
    process.terminate()
    process.wait(10)


def paper_stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_paper/stats", timeout=5) as response:  # noqa: S310
        stats: dict[str, Any] = json.loads(response.read())
        return stats


@pytest.mark.slow  # 80-85 s each on a loaded 2-core box (the spot session: 16-32 s)
@pytest.mark.parametrize("kind", [VenueKind.BINANCE_USDM, VenueKind.CCXT])
def test_ccxt_driven_sessions_trade_on_the_paper_exchange(
    ray_session: Any, paper_with_futures: str, tmp_path: Path, kind: VenueKind
) -> None:
    """``binance_usdm`` (ccxt's binanceusdm on /fapi) and ``ccxt`` with ``exchange: binance``
    (on /api), each signed, orders polled by query."""
    settings = load_settings()
    venue = settings.venue.model_copy(
        update={
            "kind": kind,
            "exchange": "binance",
            "rest_url": paper_with_futures,
            "api_key_env": KEY_ENV,
            "api_secret_env": SECRET_ENV,
        }
    )
    features = settings.features.model_copy(update={"llm_opinion": False})
    settings = settings.model_copy(
        update={"venue": venue, "features": features, "symbols": list(SYMBOLS)}
    )
    summary = run_session(
        SessionOptions(settings=settings, data_dir=tmp_path, max_bars=BARS, poll_s=0.2)
    )
    assert summary.progress.error is None
    stats = paper_stats(paper_with_futures)
    account = stats["futures"] if kind is VenueKind.BINANCE_USDM else stats
    assert account["duplicate_attempts"] == 0
    assert 0 < account["accepted"] <= summary.progress.orders
    assert_fills_journaled_once(summary, account)
