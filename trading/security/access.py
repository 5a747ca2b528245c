"""The HTTP API's access rules without HTTP: where the token store lives, which config files a
reload may read, moving-window rate limits (``limits``), and a token store that follows its file.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from trading.security.tokens import Authenticator, JwtVerifier, Principal, Role, TokenStore

TOKEN_STORE_FILE = "tokens.json"  # noqa: S105 - a file name
RELOAD_RULE = "reload accepts only the session's config file or files under security.reload_dir"


class ReloadPathError(PermissionError):
    """A reload named a file outside the allowed ones (after resolving ``..`` and symlinks)."""

    def __init__(self) -> None:
        super().__init__(RELOAD_RULE)


def token_store_path(configured: str | None, data_dir: Path) -> Path:
    """``security.token_store`` when set, else ``<data-dir>/tokens.json``."""
    return Path(configured) if configured else data_dir / TOKEN_STORE_FILE


def allowed_reload(path: Path, own_config: Path, reload_dir: str | None) -> Path:
    """``path`` resolved, when it is the session's config or lies under ``reload_dir``."""
    resolved = path.resolve()
    if resolved == own_config.resolve():
        return resolved
    if reload_dir is not None and resolved.is_relative_to(Path(reload_dir).resolve()):
        return resolved
    raise ReloadPathError()


def bootstrap_admin(store: TokenStore, given: str | None) -> str | None:
    """Register ``given`` as an admin token; else, on an empty store, create one and return it
    (to print once); else None."""
    if given:
        store.register(given, Role.ADMIN)
        return None
    if store.tokens():
        return None
    return store.create(Role.ADMIN)[1]


class RateLimits:
    """Moving-window limits in memory: per token, per address, and failed authentications per
    address. Each check answers None (go on) or the seconds to wait (``Retry-After``)."""

    def __init__(self, per_token: str, per_address: str, failures: str) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_token = parse(per_token)
        self._per_address = parse(per_address)
        self._failures = parse(failures)

    def address(self, address: str) -> int | None:
        """Count one request from ``address``; refused too while its failures are used up."""
        if not self._limiter.test(self._failures, address):
            return self._wait(self._failures, address)
        return self._hit(self._per_address, address)

    def token(self, token_id: str) -> int | None:
        return self._hit(self._per_token, token_id)

    def failure(self, address: str) -> int | None:
        """Count one failed authentication; the seconds to wait once they are used up."""
        return self._hit(self._failures, address)

    def _hit(self, item: RateLimitItem, key: str) -> int | None:
        return None if self._limiter.hit(item, key) else self._wait(item, key)

    def _wait(self, item: RateLimitItem, key: str) -> int:
        reset_at, _ = self._limiter.get_window_stats(item, key)
        return max(1, math.ceil(reset_at - time.time()))


class FollowingAuthenticator:
    """An ``Authenticator`` over the token file that reloads it when the file changes, so a token
    created or revoked by ``raytrader token`` counts on the next request."""

    def __init__(self, path: Path, jwt_verifier: JwtVerifier | None = None) -> None:
        self.path = path
        self._jwt = jwt_verifier
        self._stamp: tuple[int, int] | None = None
        self._inner = Authenticator(TokenStore(path), jwt_verifier)

    def authenticate(self, token: str) -> Principal | None:
        stamp = _stamp(self.path)
        if stamp != self._stamp:
            self._inner = Authenticator(TokenStore(self.path), self._jwt)
            self._stamp = stamp
        return self._inner.authenticate(token)


def _stamp(path: Path) -> tuple[int, int] | None:
    """The file's inode and mtime (an atomic rewrite changes both), or None when absent."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns
