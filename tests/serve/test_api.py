"""The HTTP API over real HTTP against a live session: every endpoint, bad requests, idempotent
manual orders, hot reload, Prometheus metrics, and /healthz failing on a killed actor."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pytest
import ray
from prometheus_client.parser import text_string_to_metric_families

from tests.serve.live_api import LiveApi
from trading.contracts import OrderDecision, Signal
from trading.journal.chain import read
from trading.report.progress import SymbolProgress
from trading.security.tokens import Role

pytestmark = pytest.mark.ray

SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
ACTORS = {"orchestrator", "risk", "execution", "journal", "paper-venue"} | {
    f"symbol:{s}" for s in SYMBOLS
}
ACTORS |= {"llm-router", "llm-budget"}  # the router pool's replica and its budget actor


@pytest.fixture(scope="module")
def http(live: LiveApi) -> Iterator[httpx2.Client]:
    """An admin's client (admin passes every route; tests/serve/test_auth.py checks each role)."""
    headers = live.headers(Role.ADMIN)
    with httpx2.Client(base_url=live.url, timeout=10, trust_env=False, headers=headers) as client:
        yield client


@pytest.fixture
def configs(live: LiveApi) -> Path:
    """The directory reloads may read from (``security.reload_dir`` of the live session)."""
    directory = live.data_dir / "configs"
    directory.mkdir(exist_ok=True)
    return directory


def _last_close(live: LiveApi, symbol: str) -> Decimal:
    progress: ray.ObjectRef[SymbolProgress] = live.handles.symbols[symbol].progress.remote()
    return Decimal(ray.get(progress).last_close)


def _order(live: LiveApi, **fields: Any) -> dict[str, Any]:
    """A small BTC market buy with a protective stop 2 % under the last close."""
    stop = (_last_close(live, "BTC/USDT") * Decimal("0.98")).quantize(Decimal("0.01"))
    base = {"symbol": "BTC/USDT", "side": "BUY", "quantity": "0.001", "stop_loss_price": str(stop)}
    return base | fields


def _accepted(live: LiveApi) -> int:
    assert live.handles.paper is not None
    stats: ray.ObjectRef[dict[str, Any]] = live.handles.paper.stats.remote()
    accepted: int = ray.get(stats)["accepted"]
    return accepted


def test_healthz_reports_every_actor_within_200_ms(http: httpx2.Client) -> None:
    latencies_ms = []
    for _ in range(5):
        started = time.perf_counter()
        answer = http.get("/healthz")
        latencies_ms.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ok"
    assert body["failed"] == []
    assert set(body["actors"]) == ACTORS
    assert all(a["ok"] for a in body["actors"].values())
    assert statistics.median(latencies_ms) < 200


def test_signals_are_the_latest_explained_signal_per_symbol(http: httpx2.Client) -> None:
    answer = http.get("/v1/signals")
    assert answer.status_code == 200
    signals = answer.json()["signals"]
    assert set(signals) == set(SYMBOLS)
    for symbol, document in signals.items():
        signal = Signal.model_validate_json(json.dumps(document))
        assert signal.symbol == symbol
        assert signal.reasons

    one = http.get("/v1/signals", params={"symbol": "ETH/USDT"})
    assert one.status_code == 200
    assert list(one.json()["signals"]) == ["ETH/USDT"]
    assert one.json()["signals"]["ETH/USDT"] == signals["ETH/USDT"]


def test_unknown_symbol_is_404_naming_it(http: httpx2.Client) -> None:
    answer = http.get("/v1/signals", params={"symbol": "DOGE/USDT"})
    assert answer.status_code == 404
    assert "DOGE/USDT" in answer.json()["detail"]


def test_risk_shows_state_equity_exposure_and_peaks(http: httpx2.Client) -> None:
    answer = http.get("/v1/risk")
    assert answer.status_code == 200
    risk = answer.json()
    assert risk["state"] == "ACTIVE"
    assert risk["safe_mode"] is False
    assert risk["trigger"] is None
    assert Decimal(risk["equity"]) > 0
    assert Decimal(risk["day_peak"]) >= Decimal(risk["equity"]) - Decimal("0.01")
    assert risk["daily_drawdown_pct"] >= 0
    assert set(risk) >= {"gross_exposure", "exposure_by_symbol", "month_peak", "balance"}


def test_manual_order_goes_through_risk_and_is_sent_once(
    live: LiveApi, http: httpx2.Client
) -> None:
    before = _accepted(live)
    body = _order(live)
    first = http.post("/v1/orders", json=body)
    second = http.post("/v1/orders", json=body)
    assert first.status_code == second.status_code == 200, first.text
    one, two = first.json(), second.json()
    assert one["client_order_id"] == two["client_order_id"]
    assert one["client_order_id"].startswith("rt-m")
    assert one["decision"] == two["decision"]
    assert OrderDecision.model_validate_json(json.dumps(one["decision"])).outcome == "APPROVED"
    assert (one["sent"], two["sent"]) == (True, False)
    assert one["order"]["status"] == "FILLED"
    assert _accepted(live) == before + 1

    positions = {p["symbol"]: p for p in http.get("/v1/positions").json()["positions"]}
    assert Decimal(positions["BTC/USDT"]["quantity"]) >= Decimal("0.001")
    assert Decimal(positions["BTC/USDT"]["exposure"]) > 0


def _hold_btc(live: LiveApi, http: httpx2.Client) -> None:
    """A long of 0.001 BTC from this helper's own order, so a SELL reduces it (risk denies a
    short without a stop); repeated calls send nothing more."""
    answer = http.post("/v1/orders", json=_order(live, client_order_id="manual-setup-buy"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["order"]["status"] == "FILLED"


def test_given_client_id_is_kept_and_idempotent(live: LiveApi, http: httpx2.Client) -> None:
    _hold_btc(live, http)
    before = _accepted(live)
    body = _order(live, client_order_id="manual-sell-1", side="SELL", quantity="0.0005")
    answers = [http.post("/v1/orders", json=body).json() for _ in range(3)]
    assert {a["client_order_id"] for a in answers} == {"manual-sell-1"}
    assert [a["sent"] for a in answers] == [True, False, False]
    assert _accepted(live) == before + 1


def test_client_id_reused_for_another_order_is_409(live: LiveApi, http: httpx2.Client) -> None:
    first = http.post("/v1/orders", json=_order(live, client_order_id="manual-reused-1"))
    assert first.status_code == 200, first.text
    body = _order(live, client_order_id="manual-reused-1", quantity="0.0007")
    answer = http.post("/v1/orders", json=body)
    assert answer.status_code == 409
    assert answer.json()["detail"]["field"] == "client_order_id"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": "-1"}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"side": "HOLD"}, "side"),
        ({"signal_time": "2025-10-01T00:00:00+02:00"}, "signal_time"),
        ({"signal_time": "2025-10-01T00:00:00"}, "signal_time"),
        ({"order_type": "LIMIT"}, "limit_price"),
        ({"order_type": "MARKET", "limit_price": "100"}, "limit_price"),
        ({"symbol": "XRP/USDT"}, "symbol"),
        ({"client_order_id": "no spaces allowed"}, "client_order_id"),
        ({"confidence": 2}, "confidence"),
        ({"price": "1"}, "price"),
    ],
)
def test_bad_order_is_422_naming_the_field(
    live: LiveApi, http: httpx2.Client, change: dict[str, Any], field: str
) -> None:
    answer = http.post("/v1/orders", json=_order(live, **change))
    assert answer.status_code == 422, answer.text
    assert ["body", field] in [e["loc"] for e in answer.json()["detail"]]


def test_missing_field_is_422_naming_it(http: httpx2.Client) -> None:
    answer = http.post("/v1/orders", json={"symbol": "BTC/USDT", "side": "BUY"})
    assert answer.status_code == 422
    assert ["body", "quantity"] in [e["loc"] for e in answer.json()["detail"]]


def test_config_reload_applies_and_is_journaled(live: LiveApi, http: httpx2.Client) -> None:
    answer = http.post("/v1/config/reload")
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["applied"] is True
    configs = [r for r in read(live.data_dir / "journal.jsonl") if r["kind"] == "config"]
    assert configs[-1]["payload"]["digest"] == result["digest"]
    assert configs[-1]["payload"]["source"].startswith("api:")


def test_reload_with_bad_config_is_422_naming_the_key(configs: Path, http: httpx2.Client) -> None:
    bad = configs / "bad.yaml"
    bad.write_text("symbols: [BTC/USDT, ETH/USDT, SOL/USDT]\nrisk:\n  max_leverage: 50\n")
    answer = http.post("/v1/config/reload", json={"path": str(bad)})
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail["path"] == str(bad)
    assert [p["key"] for p in detail["problems"]] == ["risk.max_leverage"]
    assert "50" not in json.dumps(detail["problems"])  # the file's value is not echoed

    missing = http.post("/v1/config/reload", json={"path": str(configs / "absent.yaml")})
    assert missing.status_code == 422
    assert "cannot read" in missing.json()["detail"]["problems"][0]["msg"]


def test_reload_that_changes_symbols_is_409(configs: Path, http: httpx2.Client) -> None:
    other = configs / "other.yaml"
    other.write_text("symbols: [BTC/USDT]\n")
    answer = http.post("/v1/config/reload", json={"path": str(other)})
    assert answer.status_code == 409
    assert answer.json()["detail"]["key"] == "symbols"


def test_metrics_are_prometheus_text_read_per_scrape(live: LiveApi, http: httpx2.Client) -> None:
    answer = http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }
    assert samples[("raytrader_steps_total", ())] == live.steps
    assert samples[("raytrader_trading_state", (("state", "ACTIVE"),))] == 1
    assert samples[("raytrader_trading_state", (("state", "REDUCING"),))] == 0
    assert samples[("raytrader_equity", ())] > 0
    assert samples[("raytrader_signals_total", ())] > 0
    assert ("raytrader_gross_exposure", ()) in samples
    assert ("raytrader_orders_total", ()) in samples
    assert ("raytrader_fills_total", ()) in samples
    head: ray.ObjectRef[tuple[int, str]] = live.handles.journal.head.remote()
    records, _ = ray.get(head)
    assert samples[("raytrader_journal_records", ())] == records
    assert all(v == 1 for (name, _), v in samples.items() if name == "raytrader_source_up")


def test_openapi_schema_lists_every_route(http: httpx2.Client) -> None:
    schema = http.get("/openapi.json").json()
    assert set(schema["paths"]) >= {
        "/healthz",
        "/v1/signals",
        "/v1/positions",
        "/v1/risk",
        "/v1/orders",
        "/v1/config/reload",
        "/metrics",
    }
    assert "ManualOrder" in schema["components"]["schemas"]


@pytest.mark.kills_actor
def test_healthz_is_503_naming_a_killed_actor(live: LiveApi, http: httpx2.Client) -> None:
    """Runs after the package's other tests (tests/serve/conftest.py): the actor stays dead."""
    ray.kill(live.handles.symbols["ETH/USDT"], no_restart=True)
    deadline = time.monotonic() + 10
    while (answer := http.get("/healthz")).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "failing"
    assert body["failed"] == ["symbol:ETH/USDT"]
    assert body["actors"]["risk"]["ok"] is True
