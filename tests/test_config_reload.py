"""Config hot reload: the diff with dotted keys, the all-or-nothing refusal of restart-only
keys, the file watch (signature included), and on Ray a session whose config file is edited
mid-session: a risk limit and a signal weight reach the actors, the journal holds the audited
change, and a bad edit or a restart-only edit is refused with the old settings kept."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import ray

from actors.session import SessionOptions, start_actors, stop_actors
from tests.serve.live_api import FIRST_CLOCK, STEP
from trading.config import DEFAULT_CONFIG, SIGNATURE_KEY_ENV, Settings, load_settings, sign_config
from trading.contracts import Timeframe
from trading.journal.chain import read
from trading.reload import ConfigFileWatch, ReloadRefusedError, config_changes, refusal

DEADLINE_S = 20.0


def _config(tmp_path: Path) -> Path:
    """The bundled config with the LLM second opinion off (no router actors to start)."""
    path = tmp_path / "config.yaml"
    text = DEFAULT_CONFIG.read_text()
    assert text.count("llm_opinion: true") == 1
    path.write_text(text.replace("llm_opinion: true", "llm_opinion: false"))
    return path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_changes_are_dotted_keys_with_old_and_new_values(tmp_path: Path) -> None:
    path = _config(tmp_path)
    old = load_settings(path)
    _edit(path, "max_gross_exposure_pct: 20.0", "max_gross_exposure_pct: 15.0")
    _edit(path, "{15m: 0.15, 1h: 0.25,", "{15m: 0.15, 1h: 0.5,")
    new = load_settings(path)
    assert config_changes(old, new) == {
        "risk.max_gross_exposure_pct": {"old": 20.0, "new": 15.0},
        "signals.timeframe_weights.1h": {"old": 0.25, "new": 0.5},
    }
    assert config_changes(old, old) == {}
    assert refusal(old, config_changes(old, new)) is None


def test_restart_only_keys_are_refused_by_name(tmp_path: Path) -> None:
    old = load_settings(_config(tmp_path))
    new = old.model_copy(
        update={
            "symbols": ("BTC/USDT",),
            "timeframes": (Timeframe.H1, Timeframe.H4),
            "venue": old.venue.model_copy(update={"taker_fee_bps": 5.0}),
            "risk": old.risk.model_copy(update={"max_leverage": 5.0}),
        }
    )
    refused = refusal(old, config_changes(old, new))
    assert isinstance(refused, ReloadRefusedError)
    assert refused.keys == ("symbols", "timeframes", "venue.taker_fee_bps")
    assert "venue.taker_fee_bps: 4.0 -> 5.0" in str(refused)
    assert "risk.max_leverage" not in refused.keys

    off = old.model_copy(update={"features": old.features.model_copy(update={"hot_reload": False})})
    refused_off = refusal(off, config_changes(off, old))
    assert refused_off is not None
    assert refused_off.keys == ("features.hot_reload",)


def test_file_watch_reports_each_new_version_once_and_names_a_bad_key(tmp_path: Path) -> None:
    path = _config(tmp_path)
    watch = ConfigFileWatch(path, overrides={"symbols": ("BTC/USDT",)})
    assert watch.poll() is None, "the version present at start counts as seen"

    _edit(path, "max_gross_exposure_pct: 20.0", "max_gross_exposure_pct: 15.0")
    edit = watch.poll()
    assert edit is not None
    assert edit.settings is not None
    assert edit.settings.risk.max_gross_exposure_pct == 15.0
    assert edit.settings.symbols == ("BTC/USDT",), "overrides are laid over the file"
    assert edit.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert watch.poll() is None

    _edit(path, "max_leverage: 10.0", "max_leverage: 50")
    bad = watch.poll()
    assert bad is not None
    assert bad.settings is None
    assert bad.error is not None
    assert "risk.max_leverage" in bad.error
    assert watch.poll() is None, "a bad version is reported once"


def test_file_watch_checks_the_signature_and_notices_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SIGNATURE_KEY_ENV, "k3y")
    path = _config(tmp_path)
    sign_config(path, "k3y")
    watch = ConfigFileWatch(path)
    _edit(path, "max_gross_exposure_pct: 20.0", "max_gross_exposure_pct: 15.0")
    unsigned = watch.poll()
    assert unsigned is not None
    assert unsigned.settings is None
    assert unsigned.error is not None
    assert "signature" in unsigned.error
    sign_config(path, "k3y")
    signed = watch.poll()
    assert signed is not None
    assert signed.settings is not None
    assert signed.settings.risk.max_gross_exposure_pct == 15.0


# --------------------------------------------------------------------------- on Ray


def _configs(journal: Path) -> list[dict[str, Any]]:
    return [r["payload"] for r in read(journal) if r["kind"] == "config"]


def _wait_for_config_record(journal: Path, count: int, deadline: float) -> dict[str, Any]:
    while len(records := _configs(journal)) < count:
        assert time.monotonic() < deadline, f"no config record #{count}: {records}"
        time.sleep(0.05)
    return records[count - 1]


def _risk_limit(risk: Any) -> float:
    limit: float = ray.get(
        risk.__ray_call__.remote(lambda actor: actor._gate.policy.limits.max_gross_exposure_pct),
        timeout=10,
    )
    return limit


@pytest.fixture
def session(ray_session: Any, tmp_path: Path) -> Iterator[tuple[Any, Any, Path, Path]]:
    config = _config(tmp_path)
    options = SessionOptions(
        settings=load_settings(config), data_dir=tmp_path / "data", max_bars=60, poll_s=0.2
    )
    handles, orchestrator = start_actors(options)
    try:
        yield handles, orchestrator, config, tmp_path / "data" / "journal.jsonl"
    finally:
        stop_actors(handles, orchestrator)


@pytest.mark.ray
def test_editing_the_config_file_mid_session_reaches_risk_and_every_symbol_actor(
    session: tuple[Any, Any, Path, Path],
) -> None:
    handles, orchestrator, config, journal = session
    for i in range(3):
        ray.get(orchestrator.step.remote(FIRST_CLOCK + i * STEP), timeout=120)  # workers start
    ray.get(orchestrator.watch_config.remote(str(config), 0.05), timeout=10)
    deadline = time.monotonic() + DEADLINE_S
    assert _risk_limit(handles.risk) == 20.0

    _edit(config, "max_gross_exposure_pct: 20.0", "max_gross_exposure_pct: 15.0")
    _edit(config, "atr_stop_multiple: 2.0", "atr_stop_multiple: 2.5")
    _edit(config, "{15m: 0.15, 1h: 0.25,", "{15m: 0.15, 1h: 0.5,")
    applied = _wait_for_config_record(journal, 1, deadline)
    assert applied == {
        "ts": (FIRST_CLOCK + 2 * STEP).isoformat().replace("+00:00", "Z"),
        "source": f"file:{config}",
        "digest": hashlib.sha256(config.read_bytes()).hexdigest(),
        "changes": {
            "risk.max_gross_exposure_pct": {"old": 20.0, "new": 15.0},
            "risk.atr_stop_multiple": {"old": 2.0, "new": 2.5},
            "signals.timeframe_weights.1h": {"old": 0.25, "new": 0.5},
        },
        "applied": True,
        "error": None,
    }
    assert _risk_limit(handles.risk) == 15.0
    desk_stop = orchestrator.__ray_call__.remote(
        lambda actor: actor._desk.lifecycle.settings.atr_stop_multiple
    )
    assert ray.get(desk_stop, timeout=10) == Decimal("2.5")
    for actor in handles.symbols.values():
        weights = ray.get(actor.signal_settings.remote(), timeout=10).timeframe_weights
        assert weights[Timeframe.H1] == 0.5
    running: Settings = ray.get(orchestrator.settings.remote(), timeout=10)
    assert running.risk.max_gross_exposure_pct == 15.0
    ray.get(orchestrator.step.remote(FIRST_CLOCK + 3 * STEP), timeout=10)

    # an invalid edit: journaled as rejected with the error, nothing applied
    _edit(config, "max_leverage: 10.0", "max_leverage: 50")
    rejected = _wait_for_config_record(journal, 2, deadline)
    assert rejected["applied"] is False
    assert "risk.max_leverage" in rejected["error"]
    assert rejected["changes"] == {}

    # a valid file that changes a restart-only key with a limit: refused as a whole
    _edit(config, "max_leverage: 50", "max_leverage: 10.0")
    _edit(config, "max_gross_exposure_pct: 15.0", "max_gross_exposure_pct: 12.0")
    _edit(config, "timeframes: [15m, 1h, 4h, 1d]", "timeframes: [15m, 1h, 4h]")
    refused = _wait_for_config_record(journal, 3, deadline)
    assert refused["applied"] is False
    assert refused["error"].startswith("only a restart can change timeframes")
    assert refused["changes"]["risk.max_gross_exposure_pct"] == {"old": 15.0, "new": 12.0}
    assert _risk_limit(handles.risk) == 15.0
    running = ray.get(orchestrator.settings.remote(), timeout=10)
    assert running.risk.max_gross_exposure_pct == 15.0
    assert running.timeframes == (Timeframe.M15, Timeframe.H1, Timeframe.H4, Timeframe.D1)
    progress = ray.get(orchestrator.step.remote(FIRST_CLOCK + 4 * STEP), timeout=10)
    assert len(progress) == len(handles.symbols)
    assert len(_configs(journal)) == 3


@pytest.mark.ray
def test_api_style_reload_of_a_restart_only_key_raises_and_is_journaled(
    session: tuple[Any, Any, Path, Path],
) -> None:
    _handles, orchestrator, config, journal = session
    settings = load_settings(config).model_copy(update={"symbols": ("BTC/USDT",)})
    with pytest.raises(ReloadRefusedError) as refused:
        ray.get(orchestrator.apply_settings.remote(settings, "api:test", "d1g"), timeout=120)
    assert refused.value.keys == ("symbols",)
    [record] = _configs(journal)
    assert (record["source"], record["applied"]) == ("api:test", False)
    assert list(record["changes"]) == ["symbols"]


def _reloaded(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with ``section__key`` values replaced (validated like a config file)."""
    document = settings.model_dump(mode="json")
    for name, value in changes.items():
        section, key = name.split("__")
        document[section][key] = value
    return Settings.model_validate(document)


@pytest.mark.ray
def test_journal_rerun_applies_a_mid_session_reload_where_it_landed(
    ray_session: Any, tmp_path: Path
) -> None:
    """A reload of a signal weight and a risk limit between steps 100 and 101: ``rerun`` with
    the starting config lays it over at the same place and reproduces every signal and
    decision; the same journal without the config record does not."""
    from trading.journal.rerun import rerun

    settings = load_settings(_config(tmp_path))
    data_dir = tmp_path / "data"
    handles, orchestrator = start_actors(
        SessionOptions(settings=settings, data_dir=data_dir, max_bars=600, poll_s=0.2)
    )
    journal = data_dir / "journal.jsonl"
    middle = FIRST_CLOCK + 99 * STEP
    try:
        ray.get(orchestrator.run.remote(FIRST_CLOCK, middle), timeout=300)
        weights = {**settings.signals.model_dump(mode="json")["timeframe_weights"], "1h": 0.5}
        new = _reloaded(
            settings, signals__timeframe_weights=weights, risk__max_gross_exposure_pct=10.0
        )
        change = ray.get(orchestrator.apply_settings.remote(new, "api:test", "d1g"), timeout=60)
        progress = ray.get(orchestrator.run.remote(middle + STEP, middle + 100 * STEP), timeout=300)
    finally:
        stop_actors(handles, orchestrator)
    assert change.applied
    assert change.changes == {
        "risk.max_gross_exposure_pct": {"old": 20.0, "new": 10.0},
        "signals.timeframe_weights.1h": {"old": 0.25, "new": 0.5},
    }
    records = list(read(journal))
    at = next(i for i, r in enumerate(records) if r["kind"] == "config")
    after = [r["payload"] for r in records[at:] if r["kind"] == "decision"]
    assert after, "decisions after the reload"
    assert any(d["outcome"] != "APPROVED" for d in after), [d["outcome"] for d in after]

    report = rerun(journal, settings, Decimal("100000"))
    assert report.reloads == 1
    assert report.steps == progress.steps == 200
    assert report.decisions == sum(progress.decisions.values())
    assert report.identical, (report.mismatches[:2], report.signal_mismatches[:2])

    stripped = tmp_path / "without-reload.jsonl"
    stripped.write_text(
        "".join(
            line
            for line in journal.read_text().splitlines(keepends=True)
            if json.loads(line)["kind"] != "config"
        )
    )
    unreloaded = rerun(stripped, settings, Decimal("100000"))
    assert unreloaded.reloads == 0
    assert unreloaded.signal_mismatches
    assert unreloaded.mismatches
