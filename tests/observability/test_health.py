"""``/readyz``'s decision: ready only when every probe answers and the venue stream has
connected; a failing, slow or missing answer says which. The probes are plain coroutines here
(the actors' answers); tests/observability/test_traces_on_ray.py probes a live session."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from serve.health import probe_readiness


async def _answer(value: Any = True, delay_s: float = 0.0) -> Any:
    await asyncio.sleep(delay_s)
    return value


async def _fail() -> bool:
    raise ConnectionError("actor died")


def _probes(**extra: Awaitable[Any]) -> dict[str, Awaitable[Any]]:
    return {"orchestrator": _answer(), "risk": _answer(), **extra}


def test_ready_once_every_actor_answers_and_the_stream_connected() -> None:
    readiness = asyncio.run(
        probe_readiness(_probes(), _answer({"stream_connects": 1, "sent": 0}), 1.0)
    )
    assert readiness.ready
    assert readiness.venue_stream
    assert readiness.health.status == "ok"


def test_not_ready_before_the_venue_stream_connects() -> None:
    readiness = asyncio.run(probe_readiness(_probes(), _answer({"stream_connects": 0}), 1.0))
    assert (readiness.ready, readiness.venue_stream) == (False, False)
    assert readiness.health.failed == []


def test_not_ready_while_an_actor_fails_and_it_is_named() -> None:
    readiness = asyncio.run(
        probe_readiness(_probes(**{"llm-router": _fail()}), _answer({"stream_connects": 3}), 1.0)
    )
    assert not readiness.ready
    assert readiness.venue_stream
    assert readiness.health.failed == ["llm-router"]
    assert readiness.health.actors["llm-router"].error == "ConnectionError: actor died"


def test_a_venue_that_does_not_answer_in_time_is_not_ready() -> None:
    stats = _answer({"stream_connects": 1}, delay_s=0.5)
    readiness = asyncio.run(probe_readiness(_probes(), stats, 0.05))
    assert (readiness.ready, readiness.venue_stream) == (False, False)
