"""The API's guard: a bearer token with a role on every route but ``/healthz``, rate limits,
a request-body ceiling and CORS only when configured.

Routes declare their role with ``dependencies=[require(Role.X)]``; the dependency reaches the
replica's ``Guard`` through Serve's replica context. 401 (with ``WWW-Authenticate: Bearer``) for
a missing or bad token, 403 for a too-weak role, 429 with ``Retry-After`` past a limit; every
401/403 is journaled as an ``AccessDenied`` record with the token id, never the token.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from ray import serve as ray_serve
from ray.actor import ActorHandle
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trading.config import SecuritySettings
from trading.journal.recorder import AccessDenied
from trading.security.access import FollowingAuthenticator, RateLimits
from trading.security.tokens import Principal, Role, authorize, token_id_of

JOURNAL_TIMEOUT_S = 5.0
UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class GuardConfig:
    """What the guard reads at the replica's start: the token file and the security settings."""

    token_store: Path
    security: SecuritySettings


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _too_many(wait_s: int) -> HTTPException:
    return HTTPException(429, {"msg": "rate limit exceeded"}, headers={"Retry-After": str(wait_s)})


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


class Guard:
    """Admits a request to a route that needs a role, or raises the 401/403/429 that refuses it."""

    def __init__(self, config: GuardConfig, journal: ActorHandle[Any]) -> None:
        self.security = config.security
        self._auth = FollowingAuthenticator(config.token_store)
        self._limits = RateLimits(
            config.security.rate_limit_per_token,
            config.security.rate_limit_per_address,
            config.security.auth_failures_per_address,
        )
        self._journal = journal

    async def admit(self, request: Request, role: Role) -> Principal:
        address = _address(request)
        if (wait := self._limits.address(address)) is not None:
            raise _too_many(wait)
        token = _bearer(request)
        principal = await asyncio.to_thread(self._auth.authenticate, token) if token else None
        if principal is None:
            raise await self._unauthenticated(request, token, address)
        if not authorize(principal, role):
            reason = f"role {principal.role.value} lacks {role.value}"
            await self._deny(request, principal.token_id, 403, reason)
            raise HTTPException(403, {"msg": f"this route needs the {role.value} role"})
        if (wait := self._limits.token(principal.token_id)) is not None:
            raise _too_many(wait)
        return principal

    async def _unauthenticated(
        self, request: Request, token: str | None, address: str
    ) -> HTTPException:
        """429 once the address used up its failures, else the journaled 401."""
        if (wait := self._limits.failure(address)) is not None:
            return _too_many(wait)
        reason = "missing bearer token" if token is None else "invalid, unknown or revoked token"
        await self._deny(request, token_id_of(token) if token else None, 401, reason)
        return HTTPException(401, {"msg": reason}, headers=UNAUTHENTICATED)

    async def _deny(self, request: Request, token_id: str | None, status: int, why: str) -> None:
        denial = AccessDenied(
            datetime.now(UTC), request.method, request.url.path, token_id, _address(request),
            status, why,
        )  # fmt: skip
        await asyncio.wait_for(self._journal.record.remote([denial]), JOURNAL_TIMEOUT_S)


def current_guard() -> Guard:
    """The guard of the Serve replica handling this request."""
    servable: Any = ray_serve.get_replica_context().servable_object
    return cast(Guard, servable.guard)


@dataclass(frozen=True)
class Require:
    """The dependency that admits a request needing ``role`` (tests read the role from it)."""

    role: Role

    async def __call__(self, request: Request) -> Principal:
        return await current_guard().admit(request, self.role)


def require(role: Role) -> Any:
    return Depends(Require(role))


class BodyLimit:
    """413 for a body over ``security.max_body_bytes``: by its Content-Length, or once read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = current_guard().security.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            return await _too_large(limit)(scope, receive, send)
        await self.app(scope, _counted(receive, limit), send)


def _too_large(limit: int) -> JSONResponse:
    msg = f"request body over {limit} bytes (security.max_body_bytes)"
    return JSONResponse({"detail": {"msg": msg}}, status_code=413)


def _counted(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises 413 once the body read so far passes ``limit`` (chunked bodies)."""
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise HTTPException(413, {"msg": f"request body over {limit} bytes"})
        return message

    return counting


class ConfiguredCors:
    """Starlette's CORSMiddleware over ``security.cors_origins``; off when none are listed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._cors: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not current_guard().security.cors_origins:
            return await self.app(scope, receive, send)
        if self._cors is None:
            origins = list(current_guard().security.cors_origins)
            self._cors = CORSMiddleware(
                self.app, allow_origins=origins, allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )  # fmt: skip
        await self._cors(scope, receive, send)
