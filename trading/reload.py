"""Hot reload of the configuration: what changed, what may change live, and a file watch.

``config_changes(old, new)`` lists every changed dotted key with its old and new value;
``refusal(old, changes)`` names the keys only a restart can change (they shape the running
actors: symbols, timeframes, the venue, the router's actors and stores, the LLM flag), so a
reload applies everything or nothing. ``ConfigFileWatch.poll()`` notices an edit of a config
file (or of its signature) by mtime and content digest and validates it with ``load_settings``,
the signature checks included (the running settings' keys, when it is given them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trading.config import ConfigError, Settings, load_settings

RESTART_KEYS = (
    "symbols",
    "base_timeframe",
    "timeframes",
    "venue",
    "router",
    "features.llm_opinion",
)
"""Dotted key prefixes a running session cannot change: its actors, feeds, venue and stores
were built from them."""


class ReloadRefusedError(ValueError):
    """A reload that would change keys only a restart can change; nothing of it was applied."""

    def __init__(self, keys: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.keys = keys

    def __reduce__(self) -> tuple[type[ReloadRefusedError], tuple[tuple[str, ...], str]]:
        return type(self), (self.keys, str(self))


def _walk(prefix: str, old: Any, new: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            yield from _walk(f"{prefix}.{key}" if prefix else str(key), old.get(key), new.get(key))
    elif old != new:
        yield prefix, {"old": old, "new": new}


def config_changes(old: Settings, new: Settings) -> dict[str, dict[str, Any]]:
    """Each changed leaf as ``{"risk.max_leverage": {"old": 10.0, "new": 5.0}}`` (JSON values;
    lists compare whole), in the config's key order."""
    return dict(_walk("", old.model_dump(mode="json"), new.model_dump(mode="json")))


def _restart_only(key: str) -> bool:
    return any(key == p or key.startswith(p + ".") for p in RESTART_KEYS)


def refusal(
    running: Settings, changes: Mapping[str, Mapping[str, Any]]
) -> ReloadRefusedError | None:
    """Why ``changes`` cannot be applied to a session running ``running`` (None if they can)."""
    if not running.features.hot_reload:
        return ReloadRefusedError(
            ("features.hot_reload",), "features.hot_reload is off in the running config"
        )
    keys = tuple(key for key in changes if _restart_only(key))
    if not keys:
        return None
    shown = "; ".join(f"{k}: {changes[k]['old']!r} -> {changes[k]['new']!r}" for k in keys)
    return ReloadRefusedError(keys, f"only a restart can change {', '.join(keys)} ({shown})")


@dataclass(frozen=True)
class ConfigEdit:
    """A new version of the watched file: valid ``settings``, or the ``error`` naming the key."""

    digest: str  # sha256 of the file's bytes, as the reload API reports it
    settings: Settings | None
    error: str | None = None


class ConfigFileWatch:
    """Polls one config file and its ``.sig``; the versions present at start count as seen."""

    def __init__(
        self,
        path: Path,
        overrides: Mapping[str, Any] | None = None,
        trust: Callable[[], Settings] | None = None,
    ) -> None:
        self.path = path
        self.overrides = dict(overrides or {})
        self.trust = trust  # the running settings: whether and by whom a version must be signed
        self._signature = path.with_name(path.name + ".sig")
        self._stamp = self._stat()
        self._seen = self._read()[1]

    def _stat(self) -> tuple[tuple[int, int] | None, ...]:
        stamps: list[tuple[int, int] | None] = []
        for path in (self.path, self._signature):
            try:
                stat = path.stat()
            except OSError:
                stamps.append(None)
            else:
                stamps.append((stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    def _read(self) -> tuple[str, tuple[bytes | None, ...]]:
        contents: list[bytes | None] = []
        for path in (self.path, self._signature):
            try:
                contents.append(path.read_bytes())
            except OSError:
                contents.append(None)
        digest = hashlib.sha256(contents[0] or b"").hexdigest()
        return digest, tuple(contents)

    def poll(self) -> ConfigEdit | None:
        """The file's new version, validated, if it (or its signature) changed since the last
        poll; None otherwise. Cheap when nothing changed: one ``stat`` per file."""
        stamp = self._stat()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        digest, contents = self._read()
        if contents == self._seen:
            return None
        self._seen = contents
        try:
            settings = load_settings(self.path, trust=self.trust() if self.trust else None)
        except ConfigError as exc:
            return ConfigEdit(digest, None, str(exc))
        if self.overrides:
            settings = settings.model_copy(update=self.overrides)
        return ConfigEdit(digest, settings)
