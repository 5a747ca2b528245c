"""API tokens: hashed at rest, looked up by id, revocable; roles nest; JWTs by JWKS file."""

from __future__ import annotations

import json
import re
import stat
import time
from pathlib import Path

import jwt
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from trading.security.permissions import InsecureFileError
from trading.security.tokens import (
    Authenticator,
    JwtConfigError,
    JwtSettings,
    JwtVerifier,
    Principal,
    Role,
    TokenStore,
    TokenStoreError,
    UnknownRoleError,
    UnknownTokenError,
    authorize,
    token_id_of,
)

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
ISSUER, AUDIENCE = "https://idp.example.test/", "raytrader-api"


def _store(tmp_path: Path) -> TokenStore:
    return TokenStore(tmp_path / "tokens.json", hasher=FAST)


def test_a_created_token_authenticates_with_its_role_and_the_file_keeps_only_an_argon2_hash(
    tmp_path: Path,
) -> None:
    store = TokenStore(tmp_path / "tokens.json")  # the library's default cost
    token_id, token = store.create(Role.TRADER)
    assert token.startswith(f"rt_{token_id}_")
    assert store.authenticate(token) == Principal(token_id, Role.TRADER, "token", token_id)
    text = (tmp_path / "tokens.json").read_text()
    secret = token.split("_", 2)[2]
    assert secret not in text
    assert token not in text
    [record] = json.loads(text)["tokens"]
    assert record["hash"].startswith("$argon2id$")
    assert (record["id"], record["role"], record["revoked"]) == (token_id, "trader", False)
    assert stat.S_IMODE((tmp_path / "tokens.json").stat().st_mode) == 0o600


def test_a_wrong_secret_an_unknown_id_and_garbage_do_not_authenticate(tmp_path: Path) -> None:
    store = _store(tmp_path)
    token_id, token = store.create("viewer")
    wrong_secret = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert store.authenticate(wrong_secret) is None
    assert store.authenticate(token.replace(token_id, "0" * 16)) is None
    assert store.authenticate("Bearer " + token) is None
    assert store.authenticate("") is None
    assert store.authenticate(token) is not None, "a good token still works after bad tries"
    assert store.authenticate(wrong_secret) is None, "a remembered id does not admit a bad secret"


def test_a_revoked_token_never_authenticates_again_even_after_a_reload(tmp_path: Path) -> None:
    store = _store(tmp_path)
    token_id, token = store.create(Role.ADMIN)
    other_id, other = store.create(Role.VIEWER)
    assert store.authenticate(token) is not None
    store.revoke(token_id)
    assert store.authenticate(token) is None
    reopened = _store(tmp_path)
    assert reopened.authenticate(token) is None
    assert reopened.authenticate(other) == Principal(other_id, Role.VIEWER, "token", other_id)
    assert [r.revoked for r in reopened.tokens()] == [True, False]


def test_revoking_an_unknown_id_and_creating_an_unknown_role_raise_typed_errors(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    with pytest.raises(UnknownTokenError, match="feedbeef"):
        store.revoke("feedbeef")
    with pytest.raises(UnknownRoleError, match="superuser"):
        store.create("superuser")


def test_a_store_readable_by_others_or_not_ours_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    _store(tmp_path).create(Role.VIEWER)
    path.chmod(0o644)
    with pytest.raises(InsecureFileError, match="0644"):
        _store(tmp_path)
    path.write_text('{"version": 9}')
    path.chmod(0o600)
    with pytest.raises(TokenStoreError, match=re.escape(str(path))):
        _store(tmp_path)


def test_token_id_of_gives_the_id_of_a_well_formed_token_only(tmp_path: Path) -> None:
    token_id, token = _store(tmp_path).create(Role.VIEWER)
    assert token_id_of(token) == token_id
    assert token_id_of("rt_short_x") is None


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, {Role.VIEWER}),
        (Role.TRADER, {Role.VIEWER, Role.TRADER}),
        (Role.ADMIN, {Role.VIEWER, Role.TRADER, Role.ADMIN, Role.SCRAPE}),
        (Role.SCRAPE, {Role.SCRAPE}),
    ],
)
def test_roles_nest_viewer_trader_admin_and_scrape_opens_only_metrics(
    role: Role, allowed: set[Role]
) -> None:
    principal = Principal("id", role, "token", "id")
    assert {r for r in Role if authorize(principal, r)} == allowed
    assert not any(authorize(None, r) for r in Role)


@given(st.text(max_size=120))
def test_no_arbitrary_text_authenticates(text: str) -> None:
    empty = TokenStore(Path("/nonexistent/raytrader/tokens.json"), hasher=FAST)
    assert empty.authenticate(text) is None


# --------------------------------------------------------------------------- JWT


@pytest.fixture
def idp(tmp_path: Path) -> tuple[Ed25519PrivateKey, JwtSettings]:
    key = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "EdDSA", "use": "sig"}]}))
    return key, JwtSettings(ISSUER, AUDIENCE, jwks, role_claim="raytrader_roles")


def _jwt(key: Ed25519PrivateKey, kid: str = "k1", **claims: object) -> str:
    now = int(time.time())
    body: dict[str, object] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now}
    body["exp"] = now + 300
    body.update(claims)
    return jwt.encode(body, key, algorithm="EdDSA", headers={"kid": kid})


def test_a_jwt_from_the_configured_issuer_maps_its_strongest_role(
    idp: tuple[Ed25519PrivateKey, JwtSettings],
) -> None:
    key, settings = idp
    verifier = JwtVerifier(settings)
    token = _jwt(key, raytrader_roles=["viewer", "trader", "ops"])
    assert verifier.authenticate(token) == Principal("jwt:alice", Role.TRADER, "jwt", "alice")
    assert verifier.authenticate(_jwt(key, raytrader_roles="scrape")) is not None


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://evil.example.test/"},
        {"aud": "another-api"},
        {"exp": int(time.time()) - 3600},
        {"raytrader_roles": ["ops"]},
        {"raytrader_roles": None},
    ],
    ids=["issuer", "audience", "expired", "no-known-role", "no-role-claim"],
)
def test_a_jwt_with_a_wrong_claim_is_refused(
    idp: tuple[Ed25519PrivateKey, JwtSettings], claims: dict[str, object]
) -> None:
    key, settings = idp
    document: dict[str, object] = {"raytrader_roles": "admin", **claims}
    assert JwtVerifier(settings).authenticate(_jwt(key, "k1", **document)) is None


def test_a_jwt_signed_by_another_key_or_an_unknown_kid_is_refused(
    idp: tuple[Ed25519PrivateKey, JwtSettings],
) -> None:
    _, settings = idp
    forger = Ed25519PrivateKey.generate()
    verifier = JwtVerifier(settings)
    assert verifier.authenticate(_jwt(forger, raytrader_roles="admin")) is None
    assert verifier.authenticate(_jwt(forger, kid="k2", raytrader_roles="admin")) is None
    assert verifier.authenticate("not.a.jwt") is None


def test_a_missing_jwks_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    settings = JwtSettings(ISSUER, AUDIENCE, tmp_path / "absent.json")
    with pytest.raises(JwtConfigError, match=r"absent\.json"):
        JwtVerifier(settings)


def test_the_authenticator_tries_api_tokens_then_jwts(
    tmp_path: Path, idp: tuple[Ed25519PrivateKey, JwtSettings]
) -> None:
    key, settings = idp
    store = _store(tmp_path)
    token_id, token = store.create(Role.ADMIN)
    both = Authenticator(store, JwtVerifier(settings))
    assert both.authenticate(token) == Principal(token_id, Role.ADMIN, "token", token_id)
    jwt_token = _jwt(key, raytrader_roles="viewer")
    assert both.authenticate(jwt_token) == Principal("jwt:alice", Role.VIEWER, "jwt", "alice")
    assert Authenticator(store).authenticate(jwt_token) is None
