"""The trader's window: ``/ui``, a live dashboard of a running session, and ``/v1/stream``, the
server-sent events it draws from.

The page and its scripts (``serve/ui/``, Plotly from the installed package) hold no session
data and are open like ``/healthz``: a browser cannot put a bearer token on a page load. The
page asks for a token (kept in the tab's session storage) and reads everything through
``/v1/stream`` with it, which needs the viewer role. Nothing comes from a CDN: it works offline.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import HTTPException
from fastapi.responses import FileResponse, Response
from plotly.offline import get_plotlyjs

from trading.config import Settings

ASSETS = Path(__file__).resolve().parent / "ui"
FILES = {"app.js": "text/javascript", "app.css": "text/css"}
STREAM_EVENTS = 3600  # at one a second an hour; the browser's reader then connects again


def page() -> FileResponse:
    return FileResponse(ASSETS / "index.html", media_type="text/html")


def asset(name: str) -> Response:
    """``app.js``, ``app.css`` or ``plotly.min.js``; 404 for anything else (no path walks)."""
    if name == "plotly.min.js":
        return Response(get_plotlyjs(), media_type="text/javascript")
    if name not in FILES:
        raise HTTPException(404, f"no UI asset {name!r}")
    return FileResponse(ASSETS / name, media_type=FILES[name])


def limits(settings: Settings) -> dict[str, float]:
    """The risk limits the page draws the state against."""
    risk = settings.risk
    return {
        "max_gross_exposure_pct": risk.max_gross_exposure_pct,
        "max_symbol_exposure_pct": risk.max_symbol_exposure_pct,
        "daily_drawdown_pct": risk.daily_drawdown_pct,
        "monthly_drawdown_pct": risk.monthly_drawdown_pct,
    }


def spending(spent: Any, settings: Settings) -> dict[str, float] | None:
    """LLM spend today against the daily budget (None without a router pool)."""
    if spent is None:
        return None
    return {
        "day_usd": float(spent.day_usd),
        "reserved_usd": float(spent.reserved_usd),
        "daily_usd": float(settings.router.budget.daily_usd),
    }


def event(snapshot: dict[str, Any]) -> str:
    """One server-sent event (``data:`` line, blank line)."""
    return f"data: {json.dumps(snapshot, default=_plain)}\n\n"


async def events(
    snapshot: Callable[[], Awaitable[dict[str, Any]]], interval_s: float, count: int
) -> AsyncIterator[str]:
    """``count`` snapshots, ``interval_s`` apart (bounded: the reader reconnects after)."""
    for index in range(count):
        if index:
            await asyncio.sleep(interval_s)
        yield event(await snapshot())


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)
