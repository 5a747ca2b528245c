"""The ``raytrader`` console script."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.cli import main


def test_console_script_help_lists_the_subcommands() -> None:
    exe = shutil.which("raytrader")
    assert exe, "the raytrader console script is not installed"
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True)
    for command in ("run", "config", "data"):
        assert command in result.stdout


def test_config_show_prints_the_resolved_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["risk"]["max_gross_exposure_pct"] == 20.0


def test_config_check_reports_the_bad_key_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("symbols: [BTC/USDT]\nrisk: {daily_drawdown_pct: -1}\n")
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "risk.daily_drawdown_pct: Input should be greater than 0 (got -1)" in err


def test_config_sign_needs_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RAYTRADER_CONFIG_KEY", raising=False)
    assert main(["config", "sign", str(tmp_path / "x.yaml")]) == 2
    assert "RAYTRADER_CONFIG_KEY" in capsys.readouterr().err


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"raytrader {version('raytrader')}\n"


def test_backtest_reads_the_bundled_data_unless_told_otherwise() -> None:
    from actors.cli import build_parser
    from trading.market.replay import BUNDLED_DATA

    args = ["backtest", "--start", "2025-10-01", "--end", "2025-10-08", "--out", "o"]
    assert build_parser().parse_args(args).data == BUNDLED_DATA
    assert (BUNDLED_DATA / "BTC_USDT-5m.parquet").is_file()


BACKTEST = ["backtest", "--start", "2025-10-01", "--end", "2025-10-08", "--out", "bt-out"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--timeframes", "2h"], "argument --timeframes: '2h': timeframes are 1m, 5m, 15m"),
        (["--start", "2025-13-01"], "argument --start: not an ISO date or time: '2025-13-01'"),
        (["--walk-forward", "30"], "argument --walk-forward: expects TRAIN:TEST days like 60:30"),
        (["--data", "/no/such/dir"], "error: --data: not a directory: /no/such/dir"),
        (["--data", "README.md"], "error: --data: not a directory: README.md"),
        (["--grid", "absent.yaml"], "error: --grid: no such file: absent.yaml"),
        (["--funding", "/no/rates"], "error: --funding: not a directory: /no/rates"),
        (["--end", "2025-09-01"], "error: --end 2025-09-01 is not after --start 2025-10-01"),
    ],
)
def test_bad_backtest_input_is_one_line_naming_the_option_and_exit_2(
    change: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code: int | str | None = main([*BACKTEST, *change])
    except SystemExit as exited:  # argparse's own errors
        code = exited.code
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [error] = [line for line in err.splitlines() if "error:" in line]  # argparse adds its usage
    assert message in error


def _commands(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, Any]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield from _commands(command, f"{path} {name}")
        elif action.dest != "help":
            yield path, action


def test_every_option_of_every_command_explains_itself() -> None:
    """Generated from the parser: a new option without help fails here."""
    from actors.cli import build_parser

    silent = [
        f"{path} {action.option_strings or action.dest}"
        for path, action in _commands(build_parser(), "raytrader")
        if not action.help
    ]
    assert silent == []


def test_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "(default: raytrader-data)" in capsys.readouterr().out
