"""Roles on every route of the live API, generated from the route table, with the limits: 401
without a token, 403 for a too-weak role, 413 for a big body, 429 for a brute force, reloads
only of allowed files, and each denial journaled with the token id but never the token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.routing import APIRoute

from serve.app import api
from serve.auth import Require
from tests.serve.live_api import LiveApi
from trading.config import DEFAULT_CONFIG
from trading.journal.chain import read
from trading.security.signing import generate_keypair, sign_file
from trading.security.tokens import Role, TokenStore, token_id_of

pytestmark = pytest.mark.ray

# open: the probes, and the dashboard's page and assets (no data: it reads /v1/stream with a token)
OPEN = {"/healthz", "/readyz", "/ui", "/ui/{name}"}
WEAKER = {Role.SCRAPE: Role.VIEWER, Role.VIEWER: Role.SCRAPE, Role.TRADER: Role.VIEWER}
WEAKER[Role.ADMIN] = Role.TRADER


def _required(route: APIRoute) -> Role | None:
    roles = [d.call.role for d in route.dependant.dependencies if isinstance(d.call, Require)]
    return roles[0] if roles else None


def _routes(router: Any) -> Iterator[APIRoute]:
    """The app's API routes, also those under included routers (FastAPI keeps them nested)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router)


def _guarded() -> list[tuple[str, str, Role | None]]:
    """Every (method, path, role) of the app but the open routes, from its route table."""
    return [
        (method, route.path, _required(route))
        for route in _routes(api)
        if route.path not in OPEN
        for method in sorted(route.methods or ())
    ]


@pytest.fixture(scope="module")
def http(live: LiveApi) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=live.url, timeout=10, trust_env=False) as client:
        yield client


def _denials(live: LiveApi) -> list[dict[str, Any]]:
    journal = live.data_dir / "journal.jsonl"
    return [r["payload"] for r in read(journal) if r["kind"] == "access_denied"]


def test_the_route_table_has_guarded_routes() -> None:
    paths = {path for _, path, _ in _guarded()}
    assert {"/v1/orders", "/v1/config/reload", "/metrics", "/openapi.json"} <= paths


@pytest.mark.parametrize(("method", "path", "role"), _guarded())
def test_every_route_but_healthz_needs_a_token_of_its_role(
    http: httpx2.Client, live: LiveApi, method: str, path: str, role: Role | None
) -> None:
    assert role is not None, f"{method} {path} declares no role (dependencies=[require(...)])"
    anonymous = http.request(method, path)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"] == "Bearer"
    weak = http.request(method, path, headers=live.headers(WEAKER[role]))
    assert weak.status_code == 403, weak.text


def test_healthz_is_open(http: httpx2.Client) -> None:
    assert http.get("/healthz").status_code == 200


def test_a_viewer_reads(http: httpx2.Client, live: LiveApi) -> None:
    for path in ("/v1/signals", "/v1/positions", "/v1/risk", "/openapi.json"):
        answer = http.get(path, headers=live.headers(Role.VIEWER))
        assert answer.status_code == 200, (path, answer.text)


def test_a_scrape_token_reads_metrics_only(http: httpx2.Client, live: LiveApi) -> None:
    assert http.get("/metrics", headers=live.headers(Role.SCRAPE)).status_code == 200
    assert http.get("/metrics", headers=live.headers(Role.ADMIN)).status_code == 200
    assert http.get("/v1/risk", headers=live.headers(Role.SCRAPE)).status_code == 403


def test_a_trader_orders(http: httpx2.Client, live: LiveApi) -> None:
    body = {"symbol": "BTC/USDT", "side": "BUY", "quantity": "0.001", "stop_loss_price": "1000"}
    answer = http.post("/v1/orders", json=body, headers=live.headers(Role.TRADER))
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"]["outcome"] in {"APPROVED", "DENIED"}


def test_an_admin_reloads_the_session_config(http: httpx2.Client, live: LiveApi) -> None:
    answer = http.post("/v1/config/reload", headers=live.headers(Role.ADMIN))
    assert answer.status_code == 200, answer.text
    assert answer.json()["applied"] is True


def test_reload_outside_the_allowed_files_is_refused(
    http: httpx2.Client, live: LiveApi, tmp_path: Path
) -> None:
    allowed = Path(live.security.reload_dir or "")
    allowed.mkdir(exist_ok=True)
    secret = tmp_path / "secret.yaml"
    secret.write_text("symbols: [TOP/SECRET]\n")
    (allowed / "link.yaml").symlink_to(secret)
    for path in (secret, allowed / ".." / secret.name, allowed / "link.yaml", Path("/etc/passwd")):
        answer = http.post(
            "/v1/config/reload", json={"path": str(path)}, headers=live.headers(Role.ADMIN)
        )
        assert answer.status_code == 403, (path, answer.text)
        assert "security.reload_dir" in answer.json()["detail"]["msg"]
        assert "TOP/SECRET" not in answer.text
        assert "root:" not in answer.text


@pytest.mark.parametrize("defect", ["unsigned", "tampered"])
def test_a_reload_of_a_config_requiring_a_signature_is_refused_unsigned_or_tampered(
    http: httpx2.Client, live: LiveApi, defect: str
) -> None:
    allowed = Path(live.security.reload_dir or "")
    allowed.mkdir(exist_ok=True)
    key = generate_keypair(allowed / f"{defect}.pem", allowed / f"{defect}.pub.pem")
    text = (
        DEFAULT_CONFIG.read_text()
        .replace("  require_signed_config: false", "  require_signed_config: true")
        .replace("  config_public_keys: {}", f"  config_public_keys: {{k1: {defect}.pub.pem}}")
    )
    path = allowed / f"{defect}.yaml"
    path.write_text(text)
    if defect == "tampered":
        sign_file(path, key, "k1")
        path.write_text(text.replace("max_gross_exposure_pct: 20.0", "max_gross_exposure_pct: 19"))
    answer = http.post(
        "/v1/config/reload", json={"path": str(path)}, headers=live.headers(Role.ADMIN)
    )
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]["problems"]
    assert problem["key"] == "signature"
    assert defect in problem["msg"]


def test_oversized_body_is_413_naming_the_limit(http: httpx2.Client, live: LiveApi) -> None:
    limit = live.security.max_body_bytes
    body = json.dumps({"symbol": "BTC/USDT", "pad": "x" * limit})
    answer = http.post(
        "/v1/orders",
        content=body,
        headers=live.headers(Role.TRADER) | {"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert str(limit) in answer.json()["detail"]["msg"]


def test_a_denial_is_journaled_with_the_token_id_never_the_token(
    http: httpx2.Client, live: LiveApi
) -> None:
    viewer = live.tokens[Role.VIEWER]
    assert http.post("/v1/config/reload", headers=live.headers(Role.VIEWER)).status_code == 403
    denial = _denials(live)[-1]
    assert denial["token_id"] == token_id_of(viewer)
    assert (denial["route"], denial["status"], denial["method"]) == (
        "/v1/config/reload",
        403,
        "POST",
    )
    assert "viewer" in denial["reason"]
    assert viewer not in (live.data_dir / "journal.jsonl").read_text()


def test_a_token_created_or_revoked_while_serving_counts_on_the_next_request(
    http: httpx2.Client, live: LiveApi
) -> None:
    store = TokenStore(live.data_dir / "tokens.json")
    token_id, token = store.create(Role.VIEWER)
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.get("/v1/risk", headers=bearer).status_code == 200
    store.revoke(token_id)
    assert http.get("/v1/risk", headers=bearer).status_code == 401


def test_cors_is_off_unless_origins_are_configured(http: httpx2.Client, live: LiveApi) -> None:
    assert live.security.cors_origins == ()
    answer = http.get(
        "/v1/risk", headers=live.headers(Role.VIEWER) | {"Origin": "https://evil.example"}
    )
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


def test_token_brute_force_gets_429_with_retry_after(live: LiveApi) -> None:
    """From its own loopback address (127.0.0.2), so the other tests keep theirs."""
    transport = httpx2.HTTPTransport(local_address="127.0.0.2")
    failures = int(live.security.auth_failures_per_address.split("/")[0])
    with httpx2.Client(base_url=live.url, timeout=10, trust_env=False, transport=transport) as c:
        guesses = [
            c.get("/v1/risk", headers={"Authorization": f"Bearer rt_{i:016x}_{'a' * 43}"})
            for i in range(failures + 1)
        ]
        assert [g.status_code for g in guesses] == [401] * failures + [429]
        assert int(guesses[-1].headers["retry-after"]) >= 1
        good = c.get("/v1/risk", headers=live.headers(Role.ADMIN))
        assert good.status_code == 429  # the address waits out its window, even with a token
