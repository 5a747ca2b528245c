"""The ``raytrader`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trading.config import (
    DEFAULT_CONFIG,
    SIGNATURE_KEY_ENV,
    ConfigError,
    ObservabilitySettings,
    Settings,
    load_settings,
    sign_config,
)
from trading.contracts import Timeframe
from trading.market.replay import BUNDLED_DATA
from trading.security.permissions import InsecureFileError
from trading.security.signing import KeyFileError
from trading.security.tls import TlsFileError
from trading.security.tokens import TokenError, TokenStore

if TYPE_CHECKING:
    from ray.actor import ActorHandle

    from actors.orchestrator import Handles, SessionProgress
    from actors.session import SessionOptions
    from trading.journal.rerun import RerunReport
    from trading.security.compliance import ComplianceReport
    from trading.security.signing import Checkpoint, PublicKeys

Handler = Callable[[argparse.Namespace], int]
JOURNAL_KEY_ENV = "RAYTRADER_JOURNAL_KEY"
ADMIN_TOKEN_ENV = "RAYTRADER_ADMIN_TOKEN"  # noqa: S105 - the variable's name


def _token_store(args: argparse.Namespace) -> TokenStore:
    from trading.security.access import token_store_path

    configured = load_settings(args.config).security.token_store
    return TokenStore(token_store_path(configured, args.data_dir))


def _token_create(args: argparse.Namespace) -> int:
    token_id, token = _token_store(args).create(args.role)
    print(f"token {token_id} ({args.role}); shown once, keep it secret", file=sys.stderr)
    print(token)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    _token_store(args).revoke(args.token_id)
    print(f"revoked {args.token_id}")
    return 0


def _token_list(args: argparse.Namespace) -> int:
    print(f"{'ID':16}  {'ROLE':7}  {'CREATED':25}  REVOKED")
    for record in _token_store(args).tokens():
        created = record.created_at.isoformat().replace("+00:00", "Z")
        print(f"{record.token_id:16}  {record.role.value:7}  {created:25}  {record.revoked}")
    return 0


def _admin_token(settings: Settings, data_dir: Path) -> None:
    """On a first start (empty token store) print a new admin token once, unless
    ``RAYTRADER_ADMIN_TOKEN`` gives one (then it is registered)."""
    from trading.security.access import bootstrap_admin, token_store_path

    store = TokenStore(token_store_path(settings.security.token_store, data_dir))
    token = bootstrap_admin(store, os.environ.get(ADMIN_TOKEN_ENV))
    if token is not None:
        print(f"admin token (shown once; tokens in {store.path}): {token}", flush=True)


def _config_show(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    print(settings.model_dump_json(indent=2))
    return 0


def _config_check(args: argparse.Namespace) -> int:
    load_settings(args.path)
    print(f"{args.path}: ok")
    return 0


def _config_sign(args: argparse.Namespace) -> int:
    if args.key is not None:
        return _config_sign_ed25519(args)
    key = os.environ.get(SIGNATURE_KEY_ENV)
    if not key:
        print(f"error: set {SIGNATURE_KEY_ENV} to the signing key", file=sys.stderr)
        return 2
    load_settings(args.path, verify_signature=False)
    print(sign_config(args.path, key))
    return 0


def _config_sign_ed25519(args: argparse.Namespace) -> int:
    """``PATH.sig`` by the ed25519 key in ``--key`` under ``--key-id`` (default: derived)."""
    from trading.security.signing import key_id_of, load_private_key, sign_file

    try:
        key = load_private_key(args.key)
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise KeyFileError(f"--key {args.key}: {detail}") from None
    load_settings(args.path, verify_signature=False)
    key_id = args.key_id or key_id_of(key.public_key())
    print(f"{sign_file(args.path, key, key_id)} (key id {key_id})")
    return 0


def _readable(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def _missing_input(args: argparse.Namespace) -> str | None:
    """The backtest's first input path that is not there (checked when it runs, so a command
    line can be parsed on a machine without the files), or None."""
    wanted = [("--data", args.data, Path.is_dir, "not a directory")]
    wanted += [("--funding", args.funding, Path.is_dir, "not a directory")]
    wanted += [("--grid", args.grid, Path.is_file, "no such file")]
    for option, path, present, problem in wanted:
        if path is not None and not present(path):
            return f"{option}: {problem}: {path}"
    return None


def _walk_forward(text: str) -> tuple[timedelta, timedelta]:
    """``TRAIN:TEST`` days, or the expected form named."""
    from trading.backtest.grid import GridError, parse_walk_forward

    try:
        return parse_walk_forward(text)
    except GridError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--walk-forward ")) from None


def _symbols(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _otlp_endpoint(text: str) -> str:
    """An http(s) URL, e.g. http://127.0.0.1:4318/v1/traces (argparse: one line, exit 2)."""
    if not text.startswith(("http://", "https://")) or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {text!r}")
    return text


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text!r}")
    return value


def _observability(args: argparse.Namespace, settings: Settings) -> Settings:
    """--log-format, --otlp-endpoint, --trace-sample-ratio over the config's; the driver's
    logs take that format too."""
    flags = {"log_format": args.log_format, "otlp_endpoint": args.otlp_endpoint}
    flags["sample_ratio"] = args.trace_sample_ratio
    given = {key: value for key, value in flags.items() if value is not None}
    observability = ObservabilitySettings(**(settings.observability.model_dump() | given))
    from trading.observability.logs import configure_logging

    configure_logging(observability.log_format, "driver")
    return settings.model_copy(update={"observability": observability})


def _run(args: argparse.Namespace) -> int:
    """The embedded default: Ray in-process (or ``--address``), replaying real data."""
    _ray_environment()
    from actors.run_loop import run_session
    from trading.report.summary import format_summary

    settings = _run_settings(args)
    try:
        options = _session_options(args, settings)
    except ValueError as exc:  # the feed URL, a live venue without --live, a symbol unlisted
        print(f"raytrader run: {exc}", file=sys.stderr)
        return 2
    started = _Started(args, settings)  # --tls-cert/--tls-key checked before Ray starts
    stop_ray = _start_ray(args)
    try:
        summary = run_session(options, on_progress=_show_progress, on_started=started)
    finally:
        stop_ray()
    print(f"\n{format_summary(summary)}")
    return 1 if summary.progress.error else 0


def _check_venue(settings: Settings, live: bool) -> None:
    """A production venue (``venue.testnet: false``) only with ``--live``; every symbol
    listed by the venue (``ValueError`` naming what is wrong, before Ray starts)."""
    from trading.execution.retry import VenueError
    from trading.execution.venue_kinds import check_listed, check_live

    check_live(settings.venue, live)
    try:
        check_listed(settings.venue, settings.symbols)
    except VenueError as error:
        raise ValueError(f"venue {settings.venue.kind.value} did not answer: {error}") from None


def _ray_environment() -> None:
    """Ray's token authentication when a token is given (``RAY_AUTH_TOKEN`` or
    ``RAY_AUTH_TOKEN_PATH``), else off for the embedded loopback-only cluster."""
    given = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
    os.environ.setdefault("RAY_AUTH_MODE", "token" if given else "disabled")
    os.environ.setdefault("RAY_TMPDIR", "/tmp/ray")  # noqa: S108 - socket paths must stay short


def _run_settings(args: argparse.Namespace) -> Settings:
    """``--config`` with ``--symbols`` applied; prints an admin token on a first start."""
    settings = load_settings(args.config)
    if args.symbols:
        settings = settings.model_copy(update={"symbols": args.symbols})
    if args.port:
        _admin_token(settings, args.data_dir)
    return _observability(args, settings)


def _session_options(args: argparse.Namespace, settings: Settings) -> SessionOptions:
    from actors.session import SessionOptions
    from trading.market.live import VenueFeed

    _check_venue(settings, args.live)

    feed = VenueFeed(args.feed, args.feed_ws, warmup_bars=args.warmup_bars) if args.feed else None
    return SessionOptions(
        settings=settings,
        market_data=args.market_data or SessionOptions.market_data,
        data_dir=args.data_dir,
        duration_s=args.duration,
        max_bars=args.bars,
        speed=args.speed,
        feed=feed,
    )


def _start_ray(args: argparse.Namespace) -> Callable[[], None]:
    """Ray in-process (or joined at ``--address``), then Serve on the API's port if any: Serve's
    HTTP address is fixed at its start, so the API's comes before the LLM pool's."""
    import ray

    ray.init(
        address=args.address,
        namespace="raytrader",
        _temp_dir=None if args.address else os.environ["RAY_TMPDIR"],
        log_to_driver=False,
        configure_logging=False,
    )
    if args.port:
        from actors.serving import start_serve

        start_serve(args.port)
    return ray.shutdown


def _show_progress(progress: SessionProgress, elapsed: float) -> None:
    line = (
        f"[{elapsed:6.1f}s] {progress.clock or '-':25} bars {progress.base_bars:,}  "
        f"signals {progress.signals:,}  orders {progress.orders}  fills {progress.fills}  "
        f"equity {Decimal(progress.equity or 0):,.2f}"
    )
    print(f"\r{line}", end="", flush=True) if sys.stdout.isatty() else print(line, flush=True)


class _Started:
    """Once the actors run: watch ``--config`` for edits, then start the HTTP API; returns how
    to stop the API (None without one)."""

    def __init__(self, args: argparse.Namespace, settings: Settings) -> None:
        from trading.security.tls import Tls

        self.args = args
        self.settings = settings
        self.tls = Tls.from_files(args.tls_cert, args.tls_key)

    def __call__(
        self, handles: Handles, orchestrator: ActorHandle[Any]
    ) -> Callable[[], None] | None:
        args = self.args
        if args.config is not None and args.watch_config is not False:
            import ray

            overrides = {"symbols": args.symbols} if args.symbols else None
            ray.get(
                orchestrator.watch_config.remote(str(args.config), args.watch_interval, overrides)
            )
            print(f"hot reload: watching {args.config} every {args.watch_interval:g} s", flush=True)
        return self._http_api(handles, orchestrator) if args.port else None

    def _http_api(self, handles: Handles, orchestrator: ActorHandle[Any]) -> Callable[[], None]:
        from serve.app import guard_config, start_api, stop_api

        guard = guard_config(self.settings.security, self.args.data_dir)
        config = self.args.config or DEFAULT_CONFIG
        port, tls = self.args.port, self.tls
        url = start_api(handles, orchestrator, port, config_path=config, guard=guard, tls=tls)
        print(f"HTTP API on {url} (/healthz, /v1/signals, /v1/risk, /metrics)", flush=True)
        return stop_api


def _audit_verify(args: argparse.Namespace) -> int:
    from trading.journal.chain import verify

    key = os.environ.get(JOURNAL_KEY_ENV)
    try:
        report = verify(args.path, key.encode() if key else None)
    except OSError as exc:
        print(f"audit error: {args.path}: {exc.strerror}", file=sys.stderr)
        return 2
    if not report.ok:
        print(f"{args.path}: TAMPERED at {report.first_bad}", file=sys.stderr)
        return 1
    print(f"{args.path}: ok, {report.records} records, head {report.last_hash[:16]}")
    return _audit_checkpoints(args) if args.public_key else 0


def _audit_checkpoints(args: argparse.Namespace) -> int:
    """The journal's signed checkpoints against ``--public-key``: 0 if they verify, 1 naming
    the first checkpoint or record where they part (a rewritten chain), or none signed."""
    from trading.journal.chain import read
    from trading.security.signing import SignatureError, verify_checkpoints

    checkpoints, keys = _checkpoints_of(args.path, args.public_key)
    try:
        report = verify_checkpoints(read(args.path), checkpoints, keys)
    except SignatureError as exc:
        print(f"{args.path}: TAMPERED: {exc}", file=sys.stderr)
        return 1
    tail = report.records - report.covered
    print(
        f"{args.path}: {report.checkpoints} signed checkpoints vouch for records 0-"
        f"{report.covered - 1}; {tail} later records not yet signed"
    )
    return 0


def _public_keys(specs: Sequence[str]) -> PublicKeys:
    """``--public-key [ID=]FILE`` as key id -> key (the id derived from the key if not given)."""
    from trading.security.signing import key_id_of, load_public_key

    keys = {}
    for spec in specs:
        key_id, sep, name = spec.rpartition("=")
        try:
            key = load_public_key(Path(name))
        except (OSError, ValueError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise KeyFileError(f"--public-key {name}: {detail}") from None
        keys[key_id if sep else key_id_of(key)] = key
    return keys


def _utc_moment(text: str) -> datetime:
    """``--from``/``--to``: an ISO date or time; without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _report_compliance(args: argparse.Namespace) -> int:
    """CSV and HTML of every order and config change in ``[--from, --to)``; exit 1 when the
    chain (or, with ``--public-key``, its signed checkpoints) does not verify."""
    from trading.security.compliance import build_report, write_csv, write_html

    journal = args.journal or args.data_dir / "journal.jsonl"
    if not journal.is_file():
        print(f"report error: {journal}: no such journal", file=sys.stderr)
        return 2
    key = os.environ.get(JOURNAL_KEY_ENV)
    checkpoints = _checkpoints_of(journal, args.public_key) if args.public_key else None
    hmac_key = key.encode() if key else None
    period = (args.period_from, args.period_to)
    report = build_report(journal, hmac_key, *period, checkpoints=checkpoints)
    paths = write_csv(report, args.template, args.out)
    paths.append(write_html(report, args.template, args.out / "report.html"))
    return _report_verdict(report, paths)


def _checkpoints_of(journal: Path, specs: Sequence[str]) -> tuple[list[Checkpoint], PublicKeys]:
    from trading.security.signing import checkpoints_path, read_checkpoints

    path = checkpoints_path(journal)
    return (list(read_checkpoints(path)) if path.exists() else []), _public_keys(specs)


def _report_verdict(report: ComplianceReport, paths: Sequence[Path]) -> int:
    coverage = report.coverage
    span = (
        f"records {coverage.first_seq}-{coverage.last_seq}"
        if coverage.last_seq is not None
        else "no records"
    )
    print(
        f"{len(report.orders)} orders, {len(report.config_changes)} config changes, {span} "
        f"(hash {coverage.hash_last[:16]}); chain verified: "
        f"{'yes' if coverage.chain_verified else 'NO: ' + str(coverage.chain_problem)}; "
        f"signed checkpoints: {coverage.signed_checkpoints}"
    )
    print("\n".join(map(str, paths)))
    failed = coverage.signed_checkpoints.startswith("FAILED")
    return 0 if coverage.chain_verified and not failed else 1


def _audit_replay(args: argparse.Namespace) -> int:
    from trading.journal.rerun import ReloadMismatchError, rerun

    try:
        report = rerun(args.path, load_settings(args.config), args.initial_balance)
    except ReloadMismatchError as error:
        hint = "pass the config the session started with (--config)"
        print(f"{args.path}: {error}; {hint}", file=sys.stderr)
        return 2
    print(
        f"{args.path}: {report.steps} steps, {report.decisions} decisions re-decided, "
        f"{report.signals_recomputed} signals recomputed"
    )
    if report.identical:
        print("identical: every decision reproduced")
        return 0
    _print_first_mismatches(report)
    return 1


def _print_first_mismatches(report: RerunReport) -> None:
    if report.signal_mismatches:
        ours_signal, journaled_signal = report.signal_mismatches[0]
        print(f"DIFFERENT signal {journaled_signal}: re-run gave {ours_signal}", file=sys.stderr)
    if report.mismatches:
        ours, journaled = report.mismatches[0]
        print(f"DIFFERENT at {journaled or ours}: re-run decided {ours}", file=sys.stderr)


def _data_check(args: argparse.Namespace) -> int:
    """A summary (``--json``: the whole report); exit 1 when the file has any problem."""
    from trading.market.frames import BarFileError
    from trading.market.quality import check_file, summary_lines, timeframe_of

    timeframe = args.timeframe or timeframe_of(args.path)
    if timeframe is None:
        print(f"data error: {args.path}: no timeframe in the name: --timeframe", file=sys.stderr)
        return 2
    try:
        report = check_file(args.path, Timeframe(timeframe))
    except BarFileError as exc:
        print(f"data error: {exc}", file=sys.stderr)
        return 2
    lines = (
        [json.dumps(report.to_json(), indent=2)] if args.json else summary_lines(report, args.path)
    )
    print("\n".join(lines))
    return 0 if report.clean else 1


def _data_download(args: argparse.Namespace) -> int:
    """Candles through ccxt into ``--out`` (resuming each file); one line per file."""
    from trading.market.download import DownloadError, download_all

    jobs = [(s, tf) for s in args.symbols for tf in args.timeframes]
    start, end = args.start, args.end
    try:
        done = asyncio.run(download_all(args.exchange, jobs, start, end, args.out, args.url))
    except (DownloadError, ValueError) as exc:
        print(f"data error: {exc}", file=sys.stderr)
        return 2
    for item in done:
        gaps = f", {len(item.gaps)} gaps" if item.gaps else ""
        print(f"{item.path}: {item.bars} bars ({item.fetched} new, {item.kept} kept{gaps})")
    return 0


def _add_download(data_commands: Any) -> None:
    download = data_commands.add_parser(
        "download", help="candles from an exchange through ccxt, resumable, in the --data layout"
    )
    download.add_argument("--exchange", default="binance", help="ccxt id (default: binance)")
    download.add_argument("--symbols", type=_symbols, required=True, help="e.g. BTC/USDT,ETH/USDT")
    download.add_argument(
        "--timeframes", type=_timeframes, required=True, help="e.g. 1h,4h (15m 1h 4h 1d ...)"
    )
    download.add_argument("--start", type=_utc_moment, required=True, help="UTC, e.g. 2025-01-01")
    download.add_argument("--end", type=_utc_moment, required=True, help="UTC (exclusive)")
    download.add_argument("--out", type=Path, required=True, metavar="DIR", help="data directory")
    download.add_argument("--url", default=None, help="Binance-compatible REST base (a mirror)")
    download.set_defaults(handler=_data_download)


def _version() -> str:
    """The installed distribution's version (``pip install -e .`` included)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("raytrader")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _timeframes(text: str) -> tuple[Timeframe, ...]:
    """``1h,4h``: known timeframes, or the accepted values named."""
    try:
        return tuple(Timeframe(part.strip()) for part in text.split(",") if part.strip())
    except ValueError:
        valid = ", ".join(tf.value for tf in Timeframe)
        raise argparse.ArgumentTypeError(f"{text!r}: timeframes are {valid}") from None


def _backtest(args: argparse.Namespace) -> int:
    """Parallel backtests on Ray (``actors.backtest``), imported only when asked for."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from actors.backtest import main as backtest_main
    from actors.backtest import options_from_args

    problem = _missing_input(args)
    if args.end <= args.start:
        problem = f"--end {args.end:%F} is not after --start {args.start:%F}"
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return backtest_main(options_from_args(args), args.address)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raytrader",
        description="AI-assisted multi-timeframe trading system on Ray.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = commands.add_parser("config", help="show, check or sign a configuration file")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    show = config_commands.add_parser("show", help="print the resolved configuration as JSON")
    show.add_argument("--config", type=Path, default=None, help="YAML file (default: bundled)")
    show.set_defaults(handler=_config_show)
    check = config_commands.add_parser("check", help="validate a configuration file")
    check.add_argument("path", type=Path, help="YAML file, e.g. configs/default.yaml")
    check.set_defaults(handler=_config_check)
    sign = config_commands.add_parser(
        "sign", help=f"write PATH.sig: ed25519 with --key, else HMAC with ${SIGNATURE_KEY_ENV}"
    )
    sign.add_argument("path", type=Path, help="YAML file to sign, e.g. my.yaml")
    sign.add_argument("--key", type=Path, help="ed25519 private key (PEM, mode 0600)")
    sign.add_argument("--key-id", help="the id verifiers know the key by (default: derived)")
    sign.set_defaults(handler=_config_sign)

    data = commands.add_parser("data", help="inspect market-data files")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    data_check = data_commands.add_parser(
        "check", help="gaps, duplicates, order and bad rows of a bar file (exit 1 if any)"
    )
    data_check.add_argument("path", type=Path, metavar="FILE", help="CSV or Parquet bar file")
    data_check.add_argument(
        "--timeframe",
        choices=[tf.value for tf in Timeframe],
        help="bar length (default: from the file name, e.g. BTC_USDT-5m.parquet)",
    )
    data_check.add_argument("--json", action="store_true", help="the whole report as JSON")
    data_check.set_defaults(handler=_data_check)
    _add_download(data_commands)
    audit = commands.add_parser("audit", help="verify the hash-chained audit journal")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_verify = audit_commands.add_parser(
        "verify", help=f"exit 0 if intact, 1 naming the first bad record (${JOURNAL_KEY_ENV})"
    )
    audit_verify.add_argument(
        "path", type=Path, metavar="PATH", help="journal, e.g. raytrader-data/journal.jsonl"
    )
    audit_verify.add_argument(
        "--public-key",
        action="append",
        default=[],
        metavar="[ID=]FILE",
        help="also verify PATH.checkpoints: ed25519 signatures over the chain (repeatable)",
    )
    audit_verify.set_defaults(handler=_audit_verify)
    _add_report(commands)
    audit_replay = audit_commands.add_parser(
        "replay", help="re-run the pipeline from a journal and compare every risk decision"
    )
    audit_replay.add_argument(
        "path", type=Path, metavar="PATH", help="journal, e.g. raytrader-data/journal.jsonl"
    )
    audit_replay.add_argument("--config", type=Path, default=None, help="YAML (default: bundled)")
    audit_replay.add_argument(
        "--initial-balance", type=Decimal, default=Decimal("100000"), help="quote currency"
    )
    audit_replay.set_defaults(handler=_audit_replay)

    token = commands.add_parser("token", help="create, revoke or list the HTTP API's tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument(
        "--data-dir", type=Path, default=Path("raytrader-data"), metavar="DIR", help="tokens.json"
    )
    store.add_argument("--config", type=Path, default=None, help="YAML (security.token_store)")
    token_create = token_commands.add_parser("create", parents=[store], help="print a new token")
    token_create.add_argument("--role", required=True, help="viewer, trader, admin or scrape")
    token_create.set_defaults(handler=_token_create)
    token_revoke = token_commands.add_parser("revoke", parents=[store], help="revoke by id")
    token_revoke.add_argument("token_id", metavar="ID", help="as token list shows it")
    token_revoke.set_defaults(handler=_token_revoke)
    token_list = token_commands.add_parser("list", parents=[store], help="ids, roles, revoked")
    token_list.set_defaults(handler=_token_list)

    run = commands.add_parser(
        "run", help="run the paper session (embedded Ray, bundled real data by default)"
    )
    run.add_argument("--config", type=Path, default=None, help="YAML file (default: bundled)")
    run.add_argument("--symbols", type=_symbols, default=None, help="BTC/USDT,ETH/USDT")
    run.add_argument(
        "--watch-config",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="hot-reload edits of --config (default: on when --config is given)",
    )
    run.add_argument(
        "--watch-interval", type=float, default=2.0, metavar="SECONDS", help="config poll period"
    )
    run.add_argument("--speed", type=float, default=0.0, help="x real time; 0 = flat out")
    run.add_argument(
        "--duration", type=float, default=None, metavar="SECONDS", help="stop after, e.g. 600"
    )
    run.add_argument("--bars", type=int, default=None, help="stop after N base bars per symbol")
    run.add_argument(
        "--market-data", type=Path, default=None, metavar="DIR", help="bar files (default: ours)"
    )
    run.add_argument(
        "--data-dir", type=Path, default=Path("raytrader-data"), metavar="DIR", help="state"
    )
    run.add_argument("--address", default=None, help="join a Ray cluster (e.g. auto)")
    run.add_argument("--log-format", choices=["text", "json"], default=None, help="logs")
    run.add_argument(
        "--otlp-endpoint", type=_otlp_endpoint, default=None, help="OTLP/HTTP traces URL"
    )
    run.add_argument(
        "--trace-sample-ratio", type=_ratio, default=None, metavar="0..1", help="e.g. 0.1"
    )
    run.add_argument(
        "--port", type=int, default=8000, help="HTTP API on 127.0.0.1:PORT; 0 turns it off"
    )
    run.add_argument("--tls-cert", type=_readable, default=None, help="HTTPS: certificate (PEM)")
    run.add_argument("--tls-key", type=_readable, default=None, help="HTTPS: its key (PEM, 0600)")
    run.add_argument(
        "--feed",
        default=None,
        metavar="URL",
        help="live: stream a Binance-style venue (REST base, e.g. https://api.binance.com) on "
        "the wall clock; orders go to the built-in paper venue, filled on the live bars",
    )
    run.add_argument(
        "--feed-ws", default=None, metavar="URL", help="its WebSocket base (default: derived)"
    )
    run.add_argument(
        "--warmup-bars", type=int, default=1000, help="live: base bars backfilled at start"
    )
    run.add_argument(
        "--live",
        action="store_true",
        help="allow a production venue (venue.kind not paper with venue.testnet: false): "
        "real orders with real money",
    )
    run.set_defaults(handler=_run)

    backtest = commands.add_parser(
        "backtest", help="parameter grid x symbols x windows of backtests as Ray tasks"
    )
    backtest.add_argument(
        "--data",
        type=Path,
        default=BUNDLED_DATA,
        metavar="DIR",
        help="bar files (default: bundled)",
    )
    backtest.add_argument("--symbols", type=_symbols, default=None, help="BTC/USDT,ETH/USDT")
    backtest.add_argument(
        "--timeframes", type=_timeframes, default=None, help="e.g. 15m,1h,4h,1d (default: config)"
    )
    backtest.add_argument("--start", type=_utc_moment, required=True, help="UTC, e.g. 2025-03-01")
    backtest.add_argument("--end", type=_utc_moment, required=True, help="UTC (exclusive)")
    backtest.add_argument("--out", type=Path, required=True, metavar="DIR", help="results")
    backtest.add_argument(
        "--grid", type=Path, default=None, metavar="PARAMS.yaml", help="key: [values]"
    )
    backtest.add_argument(
        "--walk-forward", type=_walk_forward, default=None, metavar="TRAIN:TEST", help="days: 60:30"
    )
    backtest.add_argument("--funding", type=Path, default=None, metavar="DIR", help="rates")
    backtest.add_argument("--per-symbol", action="store_true", help="one run per symbol")
    backtest.add_argument("--config", type=Path, default=None, help="YAML file")
    backtest.add_argument("--address", default=None, help="join a Ray cluster (e.g. auto)")
    backtest.set_defaults(handler=_backtest)
    _show_defaults(parser)
    return parser


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every command's help shows each option's default (argparse's own formatter)."""
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                _show_defaults(command)


def _add_report(commands: Any) -> None:
    from trading.security.compliance import TEMPLATES

    report = commands.add_parser("report", help="reports from the audit journal")
    report_commands = report.add_subparsers(dest="report_command", required=True)
    compliance = report_commands.add_parser(
        "compliance", help="CSV + HTML of every order and config change, with the hash range"
    )
    where = compliance.add_mutually_exclusive_group()
    where.add_argument("--journal", type=Path, default=None, metavar="FILE", help="journal.jsonl")
    where.add_argument(
        "--data-dir", type=Path, default=Path("raytrader-data"), metavar="DIR", help="its journal"
    )
    _add_compliance_options(compliance, sorted(TEMPLATES))


def _add_compliance_options(compliance: argparse.ArgumentParser, templates: list[str]) -> None:
    compliance.add_argument(
        "--from", dest="period_from", type=_utc_moment, default=None, help="UTC, e.g. 2025-10-01"
    )
    compliance.add_argument(
        "--to", dest="period_to", type=_utc_moment, default=None, help="UTC (exclusive)"
    )
    compliance.add_argument("--template", choices=templates, default="generic", help="column set")
    compliance.add_argument(
        "--out", type=Path, default=Path("compliance-report"), metavar="DIR", help="CSV, HTML"
    )
    compliance.add_argument(
        "--public-key", action="append", default=[], metavar="[ID=]FILE", help="checkpoints"
    )
    compliance.set_defaults(handler=_report_compliance)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except (TokenError, InsecureFileError, KeyFileError, TlsFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
