"""The LLM check schedule backs off 15m -> 4h when quiet and tightens when it matters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trading.signals.schedule import CheckSchedule

T0 = datetime(2025, 10, 1, tzinfo=UTC)


def test_quiet_checks_back_off_to_four_hours_and_an_eventful_one_resets() -> None:
    schedule = CheckSchedule()
    now, intervals = T0, []
    for _ in range(6):
        assert schedule.due(now, urgent=False)
        schedule.checked(now, eventful=False)
        intervals.append(schedule.interval)
        assert not schedule.due(now + schedule.interval - timedelta(seconds=1), urgent=False)
        now += schedule.interval
    minutes = [int(i.total_seconds() // 60) for i in intervals]
    assert minutes == [30, 60, 120, 240, 240, 240]
    assert schedule.due(now - timedelta(hours=1), urgent=True), "high volatility cuts in"
    schedule.checked(now, eventful=True)
    assert schedule.interval == timedelta(minutes=15)
