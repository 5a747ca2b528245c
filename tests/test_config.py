"""Configuration: the bundled file is valid, env overrides win, bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.config import (
    DEFAULT_CONFIG,
    SIGNATURE_KEY_ENV,
    ConfigError,
    RoutingPolicy,
    load_settings,
    sign_config,
)
from trading.contracts import Timeframe


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("RAYTRADER__") or name == SIGNATURE_KEY_ENV:
            monkeypatch.delenv(name)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_bundled_default_config_loads_with_documented_limits() -> None:
    settings = load_settings()
    assert settings.symbols == ("BTC/USDT", "ETH/USDT", "SOL/USDT")
    assert settings.timeframes == Timeframe.analysis()
    assert settings.risk.max_gross_exposure_pct == 20.0
    assert settings.risk.daily_drawdown_pct == 8.0
    assert settings.risk.monthly_drawdown_pct == 20.0
    assert settings.risk.default_leverage == 3.0
    assert settings.risk.max_leverage == 10.0
    assert len(settings.router.models) >= 5
    assert settings.router.request_classes["analysis"] is RoutingPolicy.COST_AWARE


def test_environment_overrides_nested_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYTRADER__RISK__MAX_LEVERAGE", "5")
    monkeypatch.setenv("RAYTRADER__SYMBOLS", '["ETH/USDT"]')
    settings = load_settings()
    assert settings.risk.max_leverage == 5.0
    assert settings.risk.daily_drawdown_pct == 8.0  # untouched siblings keep the file's values
    assert settings.symbols == ("ETH/USDT",)


def test_env_override_that_breaks_a_limit_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYTRADER__RISK__MAX_LEVERAGE", "12")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert (
        "risk.max_leverage: Input should be less than or equal to 10 (got '12') "
        "(from environment variable RAYTRADER__RISK__MAX_LEVERAGE)" in str(exc.value)
    )


def test_a_small_file_layers_over_the_defaults(tmp_path: Path) -> None:
    """Mappings merge key by key; lists and values replace; nothing else needs repeating."""
    defaults = load_settings()
    settings = load_settings(_write(tmp_path, "risk: {max_leverage: 5}\nsymbols: [ETH/USDT]\n"))
    assert settings.risk.max_leverage == 5
    assert settings.symbols == ("ETH/USDT",)
    assert settings.risk.daily_drawdown_pct == defaults.risk.daily_drawdown_pct
    assert settings.timeframes == defaults.timeframes
    assert settings.router == defaults.router


def test_a_missing_key_names_it_without_dumping_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("trading.config.DEFAULT_CONFIG", _write(tmp_path, "risk: {}\n"))
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path / "config.yaml")
    assert exc.value.problems == ["symbols: Field required"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("symbols: [BTC/USDT]\nrisk: {max_leverage: 20}\n", "risk.max_leverage:"),
        ("symbols: [BTC/USDT]\nrisk: {max_levrage: 2}\n", "risk.max_levrage: Extra inputs"),
        ("symbols: [btcusdt]\n", "symbols.0: String should match pattern"),
        ("symbols: [BTC/USDT]\ntimeframes: [2h]\n", "timeframes.0: Input should be"),
        ("symbols: [BTC/USDT]\nbase_timeframe: 1h\n", "base_timeframe must be 1m or 5m"),
        (
            "symbols: [BTC/USDT]\nrisk: {default_leverage: 8, max_leverage: 5}\n",
            "default_leverage 8.0 exceeds max_leverage 5.0",
        ),
        (
            "symbols: [BTC/USDT]\nrouter: {fallback_chain: [gpt-9]}\n",
            "fallback_chain names unknown models ['gpt-9']",
        ),
        (
            "symbols: [BTC/USDT]\nrouter: {request_classes: {analysis: yolo}}\n",
            "router.request_classes.analysis: Input should be",
        ),
        ("symbols: [BTC/USDT]\nvenue: {kind: ftx}\n", "venue.kind: Input should be"),
        ("- just\n- a list\n", "top level must be a mapping, got list"),
        ("symbols: [BTC/USDT\n", "invalid YAML"),
    ],
)
def test_bad_config_fails_at_start_naming_the_key(tmp_path: Path, text: str, problem: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert str(exc.value).startswith(f"{path}: ")
    assert problem in str(exc.value)


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read: No such file or directory"):
        load_settings(tmp_path / "nope.yaml")


def test_signed_config_verifies_and_tampering_is_detected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, DEFAULT_CONFIG.read_text())
    monkeypatch.setenv(SIGNATURE_KEY_ENV, "s3cret-test-key")
    with pytest.raises(ConfigError, match=r"config.yaml.sig is missing"):
        load_settings(path)
    sign_config(path, "s3cret-test-key")
    assert load_settings(path).risk.max_leverage == 10.0
    path.write_text(path.read_text().replace("max_leverage: 10.0", "max_leverage: 9.0"))
    with pytest.raises(ConfigError, match=r"signature .* does not match the file"):
        load_settings(path)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_any_leverage_outside_one_to_ten_is_rejected(value: float) -> None:
    from pydantic import ValidationError

    from trading.config import RiskLimits

    if 1 <= value <= 10:
        assert RiskLimits(max_leverage=value, default_leverage=1).max_leverage == value
    else:
        with pytest.raises(ValidationError, match="max_leverage"):
            RiskLimits(max_leverage=value, default_leverage=1)
