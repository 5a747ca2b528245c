"""The config file watch of a running session: poll, validate, hot-apply or report.

Runs as a task on the orchestrator's event loop; ``trading.reload.ConfigFileWatch`` does the
polling and validation, the orchestrator applies (all or nothing) and journals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from trading.config import Settings
from trading.reload import ConfigEdit, ConfigFileWatch, ReloadRefusedError

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 2.0

Apply = Callable[[Settings, str, str], Awaitable[object]]
Reject = Callable[[str, str, str], Awaitable[object]]


async def watch_config(
    watch: ConfigFileWatch,
    apply: Apply,
    reject: Reject,
    stopping: asyncio.Event,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> None:
    """Every ``interval_s`` until ``stopping``: an edited valid file goes to ``apply`` (source
    ``file:<path>``); an invalid one to ``reject`` with the error, the old settings staying."""
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)
        if stopping.is_set():
            return
        edit = await asyncio.to_thread(watch.poll)
        if edit is not None:
            await _reload(watch.path, edit, apply, reject)


async def _reload(path: Path, edit: ConfigEdit, apply: Apply, reject: Reject) -> None:
    """One edit applied or rejected; a refused or failed reload is logged (the watch goes on)."""
    source = f"file:{path}"
    try:
        if edit.settings is None:
            logger.warning("config %s rejected: %s", path, edit.error)
            await reject(source, edit.digest, edit.error or "invalid")
        else:
            await apply(edit.settings, source, edit.digest)
            logger.info("config %s applied (%s)", path, edit.digest[:12])
    except ReloadRefusedError as exc:
        logger.warning("config %s refused: %s", path, exc)
    except Exception:  # the watch outlives one failed reload
        logger.exception("config %s reload failed", path)
