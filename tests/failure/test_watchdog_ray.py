"""The watchdog on Ray: an actor that stops answering is restarted, and the repair journaled."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import ray

from actors.journal import JournalActor
from actors.watchdog import Watchdog
from trading.failure.taxonomy import Incident
from trading.failure.watchdog import WatchdogLimits

pytestmark = pytest.mark.ray


@ray.remote(max_restarts=-1, max_task_retries=-1)
class Wedgeable:
    """Answers pings until the flag file exists, then blocks its only thread."""

    def __init__(self, flag: str) -> None:
        self._flag = Path(flag)

    def ping(self) -> bool:
        while self._flag.exists():
            time.sleep(0.05)
        return True

    def pid(self) -> int:
        return os.getpid()


def test_a_stuck_actor_is_restarted_and_the_repair_is_journaled(
    ray_session: Any, tmp_path: Path
) -> None:
    flag = tmp_path / "wedged"
    wedged = Wedgeable.options(name="wedged").remote(str(flag))  # type: ignore[attr-defined]
    journal = JournalActor.remote(str(tmp_path))  # type: ignore[attr-defined]
    first_pid: int = ray.get(wedged.pid.remote())
    watchdog = Watchdog.remote(  # type: ignore[attr-defined]
        {"wedged": wedged, "journal": journal},
        str(tmp_path / "wal"),
        WatchdogLimits(call_timeout_s=1.0),
    )
    flag.touch()
    wedged.ping.remote()  # occupies the actor's thread
    incidents: list[Incident] = ray.get(watchdog.check.remote())
    flag.unlink()
    assert [(i.cause, i.action, i.source) for i in incidents] == [
        ("STUCK_ACTOR: ping unanswered", "RESTART_ACTOR", "watchdog")
    ]
    assert incidents[0].outcome == "wedged killed; Ray restarts it from its checkpoint"
    assert ray.get(wedged.pid.remote(), timeout=60) != first_pid, "a new incarnation answers"
    journaled: list[Incident] = ray.get(journal.incidents.remote())
    assert journaled == incidents
    assert ray.get(watchdog.check.remote()) == [], "healthy again; nothing repaired"
    for actor in (watchdog, journal, wedged):
        ray.kill(actor)


@pytest.mark.slow  # a whole session: ~40 s on two cores
def test_a_watchdog_over_a_healthy_session_repairs_nothing(
    ray_session: Any, tmp_path: Path
) -> None:
    from actors.run_loop import run_session
    from actors.session import SessionOptions
    from trading.config import load_settings
    from trading.failure.taxonomy import read_incidents

    options = SessionOptions(
        settings=load_settings(),
        data_dir=tmp_path,
        max_bars=90,
        poll_s=0.2,
        watchdog=WatchdogLimits(call_timeout_s=30.0),
    )
    summary = run_session(options)
    assert summary.progress.error is None
    assert summary.progress.steps == 30
    assert read_incidents(summary.journal_path) == []
    with pytest.raises(ValueError, match="watchdog"):
        ray.get_actor("watchdog")  # stopped with the session
