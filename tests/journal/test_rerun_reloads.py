"""Journal rerun across hot reloads: a journaled change is laid over the settings exactly as the
session saw it, between the same two steps; one that does not follow from them is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from trading.config import Settings, load_settings
from trading.contracts import MarketBar, Timeframe
from trading.journal.chain import Journal
from trading.journal.recorder import ConfigChange, Recorder
from trading.journal.rerun import ReloadMismatchError, journal_steps, reloaded
from trading.journal.store import Store

T0 = datetime(2025, 10, 1, 0, 15, tzinfo=UTC)
STEP = timedelta(minutes=15)
CHANGES = {
    "risk.max_gross_exposure_pct": {"old": 20.0, "new": 15.0},
    "signals.timeframe_weights.1h": {"old": 0.25, "new": 0.5},
}


def _bar(close_time: datetime) -> MarketBar:
    return MarketBar(
        symbol="BTC/USDT",
        timeframe=Timeframe.M5,
        open_time=close_time - timedelta(minutes=5),
        open=Decimal(100),
        high=Decimal(101),
        low=Decimal(99),
        close=Decimal(100),
        volume=Decimal(1),
    )


@pytest.fixture
def settings() -> Settings:
    return load_settings()


def test_a_journaled_change_sets_each_dotted_key_to_its_new_value(settings: Settings) -> None:
    after = reloaded(settings, ConfigChange(T0, "api:test", "d1g", CHANGES))
    assert after.risk.max_gross_exposure_pct == 15.0
    assert after.signals.timeframe_weights[Timeframe.H1] == 0.5
    assert after.signals.timeframe_weights[Timeframe.H4] == 0.3
    assert after.risk.max_symbol_exposure_pct == settings.risk.max_symbol_exposure_pct


def test_a_change_whose_old_value_is_not_the_running_one_names_the_key(
    settings: Settings,
) -> None:
    changes = {**CHANGES, "risk.max_gross_exposure_pct": {"old": 18.0, "new": 15.0}}
    with pytest.raises(ReloadMismatchError) as mismatch:
        reloaded(settings, ConfigChange(T0, "api:test", "d1g", changes))
    assert mismatch.value.key == "risk.max_gross_exposure_pct"
    assert "18.0" in str(mismatch.value)


def test_an_applied_reload_goes_with_the_step_after_the_one_it_is_stamped_with(
    tmp_path: Path,
) -> None:
    applied = ConfigChange(T0, "file:config.yaml", "d1g", CHANGES)
    refused = ConfigChange(T0, "api:test", "d2g", {"symbols": {"old": [], "new": []}}, False, "x")
    no_op = ConfigChange(T0, "api:test", "d3g", {})
    recorder = Recorder(Journal(tmp_path / "journal.jsonl"), Store.open(tmp_path / "store.db"))
    recorder.record([_bar(T0)], T0)
    recorder.record([applied, refused, no_op], T0)
    recorder.record([_bar(T0 + STEP)], T0 + STEP)
    recorder.record([_bar(T0 + 2 * STEP)], T0 + 2 * STEP)
    recorder.close()

    steps = list(journal_steps(tmp_path / "journal.jsonl"))
    assert [s.clock for s in steps] == [T0, T0 + STEP, T0 + 2 * STEP]
    assert [s.reloads for s in steps] == [[], [applied], []]


def test_audit_replay_with_the_wrong_start_config_says_so_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from actors.cli import main

    changes = {"risk.max_gross_exposure_pct": {"old": 18.0, "new": 15.0}}  # default is 20.0
    recorder = Recorder(Journal(tmp_path / "journal.jsonl"), Store.open(tmp_path / "store.db"))
    recorder.record([_bar(T0)], T0)
    recorder.record([ConfigChange(T0, "api:test", "d1g", changes)], T0)
    recorder.record([_bar(T0 + STEP)], T0 + STEP)
    recorder.close()
    assert main(["audit", "replay", str(tmp_path / "journal.jsonl")]) == 2
    error = capsys.readouterr().err
    assert "risk.max_gross_exposure_pct" in error
    assert "the config the session started with" in error
