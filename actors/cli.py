"""The ``raytrader`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from trading.config import SIGNATURE_KEY_ENV, ConfigError, load_settings, sign_config
from trading.contracts import Timeframe

Handler = Callable[[argparse.Namespace], int]


def _config_show(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    print(settings.model_dump_json(indent=2))
    return 0


def _config_check(args: argparse.Namespace) -> int:
    load_settings(args.path)
    print(f"{args.path}: ok")
    return 0


def _config_sign(args: argparse.Namespace) -> int:
    key = os.environ.get(SIGNATURE_KEY_ENV)
    if not key:
        print(f"error: set {SIGNATURE_KEY_ENV} to the signing key", file=sys.stderr)
        return 2
    load_settings(args.path, verify_signature=False)
    print(sign_config(args.path, key))
    return 0


def _data_check(args: argparse.Namespace) -> int:
    from trading.market.frames import BarFileError
    from trading.market.quality import check_file

    try:
        report = check_file(args.path, Timeframe(args.timeframe))
    except BarFileError as exc:
        print(f"data error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_json(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raytrader",
        description="AI-assisted multi-timeframe trading system on Ray.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = commands.add_parser("config", help="show, check or sign a configuration file")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    show = config_commands.add_parser("show", help="print the resolved configuration as JSON")
    show.add_argument("--config", type=Path, default=None, help="YAML file (default: bundled)")
    show.set_defaults(handler=_config_show)
    check = config_commands.add_parser("check", help="validate a configuration file")
    check.add_argument("path", type=Path)
    check.set_defaults(handler=_config_check)
    sign = config_commands.add_parser("sign", help=f"write PATH.sig with ${SIGNATURE_KEY_ENV}")
    sign.add_argument("path", type=Path)
    sign.set_defaults(handler=_config_sign)

    data = commands.add_parser("data", help="inspect market-data files")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    data_check = data_commands.add_parser(
        "check", help="print a JSON quality report (gaps, duplicates, order, bad rows)"
    )
    data_check.add_argument("path", type=Path, metavar="FILE", help="CSV or Parquet bar file")
    data_check.add_argument(
        "--timeframe", required=True, choices=[tf.value for tf in Timeframe], help="bar length"
    )
    data_check.set_defaults(handler=_data_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
