"""API tokens and roles: ``viewer`` < ``trader`` < ``admin``, and ``scrape`` for ``/metrics`` only.

A token reads ``rt_<id>_<secret>``. The store keeps, per id, only an Argon2id hash of the secret
(argon2-cffi's ``PasswordHasher``), the role, the creation time and a revoked flag, in a JSON file
written atomically with mode 0600: lookup is by id, verification one hash check. Teams with an
identity provider can verify JWTs instead (issuer, audience, keys from a JWKS file; PyJWT).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from trading.security.permissions import check_owner_only, write_atomically

TOKEN_PREFIX = "rt"  # noqa: S105 - the public prefix, not a secret
_TOKEN = re.compile(r"^rt_(?P<id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})$")
_STORE_VERSION = 1


class Role(StrEnum):
    SCRAPE = "scrape"
    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"


_RANK = {Role.VIEWER: 1, Role.TRADER: 2, Role.ADMIN: 3}


class TokenError(Exception):
    """Base of the token layer's errors."""


class UnknownRoleError(TokenError, ValueError):
    def __init__(self, role: object) -> None:
        super().__init__(f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}")
        self.role = role


class UnknownTokenError(TokenError, KeyError):
    def __init__(self, token_id: str) -> None:
        super().__init__(f"no token with id {token_id!r}")
        self.token_id = token_id

    def __str__(self) -> str:
        return str(self.args[0])


class TokenStoreError(TokenError):
    """The token store file is not a store this code wrote (names the path and the field)."""


class JwtConfigError(TokenError):
    """The JWKS file is missing or not a JSON Web Key Set."""


def parse_role(value: object) -> Role:
    try:
        return Role(str(value))
    except ValueError as exc:
        raise UnknownRoleError(value) from exc


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: ``token_id`` (safe to log and journal), role, and how it proved it
    (``token`` or ``jwt``); ``subject`` is the JWT's ``sub`` (the token id for API tokens)."""

    token_id: str
    role: Role
    source: str
    subject: str


def authorize(principal: Principal | None, required: Role) -> bool:
    """True when ``principal`` may use a route that needs ``required``. Roles nest viewer <
    trader < admin; a ``scrape`` route admits scrape and admin tokens, and a scrape token opens
    nothing else."""
    if principal is None:
        return False
    if required is Role.SCRAPE:
        return principal.role in (Role.SCRAPE, Role.ADMIN)
    if principal.role is Role.SCRAPE:
        return False
    return _RANK[principal.role] >= _RANK[required]


def token_id_of(token: str) -> str | None:
    """The id part of a well-formed API token (for journaling a denial), else None."""
    match = _TOKEN.match(token)
    return match["id"] if match else None


@dataclass(frozen=True)
class TokenRecord:
    """What the store keeps of one token: never the token itself."""

    token_id: str
    role: Role
    secret_hash: str
    created_at: datetime
    revoked: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.token_id,
            "role": self.role.value,
            "hash": self.secret_hash,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "revoked": self.revoked,
        }

    @classmethod
    def from_json(cls, path: Path, document: Mapping[str, Any]) -> TokenRecord:
        try:
            return cls(
                token_id=str(document["id"]),
                role=parse_role(document["role"]),
                secret_hash=str(document["hash"]),
                created_at=datetime.fromisoformat(str(document["created_at"])),
                revoked=bool(document["revoked"]),
            )
        except (KeyError, ValueError) as exc:
            raise TokenStoreError(f"{path}: bad token record: {exc}") from exc


class TokenStore:
    """API tokens by id in a 0600 JSON file; every change rewrites the file atomically."""

    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        self.path = path
        self._hasher = hasher or PasswordHasher()
        self._lock = threading.Lock()
        self._records = self._load()
        # sha256 of secrets that verified once, so a busy client costs one Argon2 check
        self._verified: dict[str, bytes] = {}
        self._decoy = self._hasher.hash(secrets.token_urlsafe(32))

    def _load(self) -> dict[str, TokenRecord]:
        if not self.path.exists():
            return {}
        check_owner_only(self.path)
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise TokenStoreError(f"{self.path}: not JSON ({exc.msg})") from exc
        if not isinstance(document, dict) or document.get("version") != _STORE_VERSION:
            raise TokenStoreError(f"{self.path}: not a version {_STORE_VERSION} token store")
        records = [TokenRecord.from_json(self.path, r) for r in document.get("tokens", [])]
        return {r.token_id: r for r in records}

    def _save(self) -> None:
        document = {
            "version": _STORE_VERSION,
            "tokens": [r.to_json() for r in self._records.values()],
        }
        write_atomically(self.path, json.dumps(document, indent=2).encode())

    def create(self, role: Role | str, now: datetime | None = None) -> tuple[str, str]:
        """A new token of ``role``: returns ``(token_id, token)``; the token is shown once."""
        checked = parse_role(role)
        with self._lock:
            token_id = secrets.token_hex(8)
            while token_id in self._records:
                token_id = secrets.token_hex(8)
            secret = secrets.token_urlsafe(32)
            self._records[token_id] = TokenRecord(
                token_id, checked, self._hasher.hash(secret), now or datetime.now(UTC)
            )
            self._save()
        return token_id, f"{TOKEN_PREFIX}_{token_id}_{secret}"

    def register(self, token: str, role: Role | str, now: datetime | None = None) -> str:
        """Keep a token made elsewhere (``rt_<id>_<secret>``, e.g. from a secret store) under
        ``role``; returns its id. Registering the same token again changes nothing."""
        checked = parse_role(role)
        match = _TOKEN.match(token)
        if match is None:
            raise TokenError("a token reads rt_<16 hex digits>_<43 url-safe characters>")
        token_id, secret = match["id"], match["secret"]
        with self._lock:
            known = self._records.get(token_id)
            if known is not None and self._verify(known.secret_hash, secret):
                return token_id
            if known is not None:
                raise TokenError(f"token id {token_id} is taken by another token")
            self._records[token_id] = TokenRecord(
                token_id, checked, self._hasher.hash(secret), now or datetime.now(UTC)
            )
            self._save()
        return token_id

    def revoke(self, token_id: str) -> None:
        """Revoke a token by id; it never authenticates again. Unknown ids raise."""
        with self._lock:
            record = self._records.get(token_id)
            if record is None:
                raise UnknownTokenError(token_id)
            self._records[token_id] = TokenRecord(
                record.token_id, record.role, record.secret_hash, record.created_at, True
            )
            self._verified.pop(token_id, None)
            self._save()

    def tokens(self) -> list[TokenRecord]:
        return list(self._records.values())

    def authenticate(self, token: str) -> Principal | None:
        """The token's principal, or None for a malformed, unknown, revoked or wrong token. An
        unknown id still costs one hash check, so ids cannot be told apart by timing."""
        match = _TOKEN.match(token)
        if match is None:
            return None
        token_id, secret = match["id"], match["secret"]
        record = self._records.get(token_id)
        digest = hashlib.sha256(secret.encode()).digest()
        remembered = self._verified.get(token_id)
        if record is not None and remembered is not None:
            if hmac.compare_digest(remembered, digest) and not record.revoked:
                return Principal(token_id, record.role, "token", token_id)
            return None
        if not self._verify(record.secret_hash if record else self._decoy, secret):
            return None
        if record is None or record.revoked:
            return None
        self._verified[token_id] = digest
        return Principal(token_id, record.role, "token", token_id)

    def _verify(self, secret_hash: str, secret: str) -> bool:
        try:
            return self._hasher.verify(secret_hash, secret)
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True)
class JwtSettings:
    """Where JWTs come from: ``issuer``, ``audience``, the JWKS file, and the claim that holds
    the role (a string or a list; the strongest known role wins)."""

    issuer: str
    audience: str
    jwks_path: Path
    role_claim: str = "roles"
    algorithms: Sequence[str] = ("RS256", "ES256", "EdDSA")
    leeway_s: float = 30.0


class JwtVerifier:
    """Verifies a JWT's signature (by its ``kid`` in the JWKS file), issuer, audience and expiry."""

    def __init__(self, settings: JwtSettings) -> None:
        self.settings = settings
        try:
            self._keys = jwt.PyJWKSet.from_json(settings.jwks_path.read_text(encoding="utf-8"))
        except (OSError, jwt.PyJWKSetError, jwt.InvalidKeyError) as exc:
            raise JwtConfigError(f"{settings.jwks_path}: not a usable JWKS file: {exc}") from exc

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid JWT whose role claim names a known role, else None."""
        settings = self.settings
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys[str(kid)]
            claims = jwt.decode(
                token,
                key,
                algorithms=list(settings.algorithms),
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, KeyError):
            return None
        role = _strongest(claims.get(settings.role_claim))
        if role is None:
            return None
        subject = str(claims["sub"])
        return Principal(f"jwt:{subject}", role, "jwt", subject)


def _strongest(claim: object) -> Role | None:
    names: Iterable[object] = claim if isinstance(claim, list) else [claim]
    known = {r.value for r in Role}
    roles = [Role(str(n)) for n in names if str(n) in known]
    ranked = [r for r in roles if r in _RANK]
    if ranked:
        return max(ranked, key=_RANK.__getitem__)
    return Role.SCRAPE if Role.SCRAPE in roles else None


class Authenticator:
    """API tokens first (``rt_...``), then JWTs when configured."""

    def __init__(self, store: TokenStore, jwt_verifier: JwtVerifier | None = None) -> None:
        self.store = store
        self.jwt = jwt_verifier

    def authenticate(self, token: str) -> Principal | None:
        if token.startswith(f"{TOKEN_PREFIX}_"):
            return self.store.authenticate(token)
        return self.jwt.authenticate(token) if self.jwt is not None else None
