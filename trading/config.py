"""Configuration: one YAML file, overridable from the environment, validated at start.

``load_settings(path)`` reads the YAML, applies ``RAYTRADER__SECTION__KEY=value`` environment
overrides (values parsed as JSON where they look like it), and validates the result. Any bad key
fails with a ``ConfigError`` naming the file, the dotted key path and the offending value.

Configs can be signed with ed25519 (``raytrader config sign --key``): with
``security.require_signed_config`` the file needs a sibling ``<file>.sig`` by one of
``security.config_public_keys``; at a hot reload the running settings decide both, so a new file
cannot switch the check off. The older shared-key form: with ``RAYTRADER_CONFIG_KEY`` set, the
``.sig`` holds the HMAC-SHA256 of the file's bytes (use one form or the other).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from trading.contracts import PatternKind, Symbol, Timeframe
from trading.security.signing import KeyFileError, SignatureError, load_public_keys, verify_file

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
SIGNATURE_KEY_ENV = "RAYTRADER_CONFIG_KEY"
HARD_MAX_LEVERAGE = 10.0

Pct = Annotated[float, Field(gt=0, le=100)]
PositiveFloat = Annotated[float, Field(gt=0)]
_RATE = r"^\d+ *(/|per) *(\d+ *)?(second|minute|hour|day)s?$"


class ConfigError(ValueError):
    """A configuration file is unreadable, unsigned or invalid; names file, key and value."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskLimits(Section):
    risk_per_trade_min_pct: Pct = 0.25
    risk_per_trade_max_pct: Pct = 2.0
    max_gross_exposure_pct: Pct = 20.0
    max_symbol_exposure_pct: Pct = 10.0
    max_side_exposure_pct: Pct = 20.0
    max_correlation: Annotated[float, Field(gt=0, le=1)] = 0.7
    correlation_window_bars: Annotated[int, Field(ge=10)] = 100
    daily_drawdown_pct: Pct = 8.0
    monthly_drawdown_pct: Pct = 20.0
    safe_mode_cooldown_minutes: Annotated[int, Field(ge=0)] = 60
    stale_market_data_seconds: Annotated[int, Field(gt=0)] = 120
    default_leverage: Annotated[float, Field(ge=1, le=HARD_MAX_LEVERAGE)] = 3.0
    max_leverage: Annotated[float, Field(ge=1, le=HARD_MAX_LEVERAGE)] = HARD_MAX_LEVERAGE
    liquidation_buffer_pct: Annotated[float, Field(ge=0, le=50)] = 1.0
    atr_period: Annotated[int, Field(ge=2)] = 14
    atr_stop_multiple: PositiveFloat = 2.0
    breakeven_after_r: PositiveFloat = 1.0
    take_profit_r: Annotated[tuple[PositiveFloat, ...], Field(min_length=1)] = (1.5, 3.0)
    risk_confidence_exponent: PositiveFloat = 1.0
    maintenance_margin_pct: Annotated[float, Field(ge=0, lt=50)] = 0.5
    max_intents_per_window: Annotated[int, Field(ge=1)] = 30
    rate_limit_window_seconds: Annotated[int, Field(gt=0)] = 60

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        if self.risk_per_trade_min_pct > self.risk_per_trade_max_pct:
            raise ValueError(
                f"risk_per_trade_min_pct {self.risk_per_trade_min_pct} exceeds "
                f"risk_per_trade_max_pct {self.risk_per_trade_max_pct}"
            )
        if self.default_leverage > self.max_leverage:
            raise ValueError(
                f"default_leverage {self.default_leverage} exceeds max_leverage {self.max_leverage}"
            )
        if self.max_symbol_exposure_pct > self.max_gross_exposure_pct:
            raise ValueError(
                f"max_symbol_exposure_pct {self.max_symbol_exposure_pct} exceeds "
                f"max_gross_exposure_pct {self.max_gross_exposure_pct}"
            )
        if list(self.take_profit_r) != sorted(self.take_profit_r):
            raise ValueError(f"take_profit_r {list(self.take_profit_r)} must be ascending")
        return self


class RoutingPolicy(StrEnum):
    ACCURACY_FIRST = "accuracy_first"
    COST_AWARE = "cost_aware"
    LATENCY_AWARE = "latency_aware"


class Provider(StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    MISTRAL = "mistral"
    OPENAI_COMPATIBLE = "openai_compatible"


OFFLINE_ANALYST = "offline"


class ModelConfig(Section):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    provider: Provider
    model: Annotated[str, Field(min_length=1)]
    base_url: str | None = None
    credential_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
    usd_per_mtok_in: Annotated[float, Field(ge=0)]
    usd_per_mtok_out: Annotated[float, Field(ge=0)]

    @model_validator(mode="after")
    def _check_base_url(self) -> Self:
        if self.provider is Provider.OPENAI_COMPATIBLE and not self.base_url:
            raise ValueError(f"model {self.name!r}: openai_compatible provider needs base_url")
        return self


class Budget(Section):
    daily_usd: Annotated[float, Field(ge=0)] = 5.0
    run_usd: Annotated[float, Field(ge=0)] = 1.0
    daily_tokens: Annotated[int, Field(ge=0)] = 2_000_000
    run_tokens: Annotated[int, Field(ge=0)] = 500_000


def _default_cache_ttl() -> dict[Timeframe, int]:
    """Three bars of each timeframe, two of the daily."""
    ttl = {tf: 3 * tf.seconds for tf in Timeframe}
    ttl[Timeframe.D1] = 2 * Timeframe.D1.seconds
    return ttl


class CacheSettings(Section):
    """LLM opinion cache: exact prompt hash plus quantized market-state bucket (SQLite)."""

    enabled: bool = True
    path: str | None = None  # SQLite file; None keeps it in memory for the process
    state_bucket: bool = True
    bucket_includes_symbol: bool = True
    ttl_seconds: dict[Timeframe, Annotated[int, Field(ge=0)]] = Field(
        default_factory=_default_cache_ttl
    )


class HedgeSettings(Section):
    """Fire the next model when the first has not answered by its rolling p95 latency."""

    enabled: bool = True
    default_delay_ms: Annotated[int, Field(gt=0)] = 1500
    min_delay_ms: Annotated[int, Field(gt=0)] = 200
    max_delay_ms: Annotated[int, Field(gt=0)] = 2500
    min_samples: Annotated[int, Field(ge=1)] = 20
    max_hedges: Annotated[int, Field(ge=0)] = 1

    @model_validator(mode="after")
    def _check_delays(self) -> Self:
        if self.min_delay_ms > self.max_delay_ms:
            raise ValueError(
                f"hedge min_delay_ms {self.min_delay_ms} exceeds max_delay_ms {self.max_delay_ms}"
            )
        return self


class BreakerSettings(Section):
    """Open a model's circuit after repeated cooldowns; one trial call after ``open_seconds``."""

    trip_after_cooldowns: Annotated[int, Field(ge=1)] = 3
    window_seconds: Annotated[float, Field(gt=0)] = 60.0
    open_seconds: Annotated[float, Field(gt=0)] = 60.0


class EvaluationSettings(Section):
    """Where LLM calls are recorded and how rolling accuracy is computed."""

    path: str | None = None  # SQLite file; None keeps it in memory for the process
    window_calls: Annotated[int, Field(ge=1)] = 200
    min_samples: Annotated[int, Field(ge=1)] = 20
    prior_accuracy: Annotated[float, Field(ge=0, le=1)] = 0.5
    neutral_band_pct: Annotated[float, Field(ge=0)] = 0.2


class RouterPoolSettings(Section):
    """The router pool's Ray Serve ``autoscaling_config``: start at ``min_replicas``, add
    replicas once ongoing requests per replica stay above ``target_ongoing_requests`` for
    ``upscale_delay_s`` (up to ``max_replicas``), drain surplus ones once the pool has been
    oversized for ``downscale_delay_s``; handles and replicas report their load every
    ``metrics_interval_s``, averaged over ``look_back_period_s``. A replica holds at most
    ``max_ongoing_requests`` at once. The keys of the hand-built pool this replaced still load
    (``target_in_flight``, ``scale_down_after_s``, ``refresh_s``)."""

    min_replicas: Annotated[int, Field(ge=1)] = 1
    max_replicas: Annotated[int, Field(ge=1)] = 4
    target_ongoing_requests: Annotated[float, Field(gt=0)] = 8.0
    max_ongoing_requests: Annotated[int, Field(ge=1)] = 32
    upscale_delay_s: Annotated[float, Field(ge=0)] = 1.0
    downscale_delay_s: Annotated[float, Field(ge=0)] = 30.0
    metrics_interval_s: Annotated[float, Field(gt=0)] = 2.0
    look_back_period_s: Annotated[float, Field(gt=0)] = 10.0

    @model_validator(mode="before")
    @classmethod
    def _rename_legacy_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {_LEGACY_POOL_KEYS.get(key, key): value for key, value in data.items()}

    @model_validator(mode="after")
    def _check_bounds(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas {self.min_replicas} exceeds max_replicas {self.max_replicas}"
            )
        if self.target_ongoing_requests > self.max_ongoing_requests:
            raise ValueError(
                f"target_ongoing_requests {self.target_ongoing_requests} exceeds "
                f"max_ongoing_requests {self.max_ongoing_requests}"
            )
        if self.look_back_period_s <= self.metrics_interval_s:
            raise ValueError(
                f"look_back_period_s {self.look_back_period_s} must exceed "
                f"metrics_interval_s {self.metrics_interval_s}"
            )
        return self


_LEGACY_POOL_KEYS = {
    "target_in_flight": "target_ongoing_requests",
    "scale_down_after_s": "downscale_delay_s",
    "refresh_s": "metrics_interval_s",
}


class RouterSettings(Section):
    request_classes: dict[str, RoutingPolicy] = Field(
        default_factory=lambda: {"analysis": RoutingPolicy.COST_AWARE}
    )
    fallback_chain: tuple[str, ...] = (OFFLINE_ANALYST,)
    cooldown_after_failures: Annotated[int, Field(ge=1)] = 3
    cooldown_seconds: Annotated[float, Field(ge=0)] = 5.0
    latency_slo_ms: Annotated[int, Field(gt=0)] = 3000
    cost_margin: Annotated[float, Field(ge=0, le=1)] = 0.05
    budget: Budget = Field(default_factory=Budget)
    models: tuple[ModelConfig, ...] = ()
    attempt_timeout_ms: Annotated[int, Field(gt=0)] = 4000
    request_timeout_ms: Annotated[int, Field(gt=0)] = 8000
    max_attempts: Annotated[int, Field(ge=1)] = 4
    max_tokens_out: Annotated[int, Field(ge=16)] = 400
    exploration_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    cache: CacheSettings = Field(default_factory=CacheSettings)
    hedge: HedgeSettings = Field(default_factory=HedgeSettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    # provider calls in flight at once per endpoint, per replica: the pool-wide bound is
    # max_calls_per_provider x pool.max_replicas
    max_calls_per_provider: Annotated[int, Field(ge=1)] = 8
    pool: RouterPoolSettings = Field(default_factory=RouterPoolSettings)

    @model_validator(mode="after")
    def _check_chain(self) -> Self:
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"models: duplicate model names in {names}")
        unknown = [n for n in self.fallback_chain if n != OFFLINE_ANALYST and n not in names]
        if unknown:
            raise ValueError(f"fallback_chain names unknown models {unknown}; known: {names}")
        return self


class VenueKind(StrEnum):
    PAPER = "paper"
    BINANCE_SPOT = "binance_spot"
    BINANCE_USDM = "binance_usdm"
    CCXT = "ccxt"


VenueUrl = Annotated[str, Field(pattern=r"^(https?|wss?)://[^\s]+$")]


class VenueCredentials(BaseModel):
    """A venue API key and secret, read from the environment; printed or dumped as stars."""

    model_config = ConfigDict(frozen=True)

    api_key: SecretStr
    api_secret: SecretStr


class VenueSettings(Section):
    """The venue. Its API key and secret are never in the config (which is shown and
    journaled): only the names of the environment variables holding them."""

    kind: VenueKind = VenueKind.PAPER
    exchange: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")] = "binance"
    testnet: bool = True
    maker_fee_bps: Annotated[float, Field(ge=0, le=100)] = 2.0
    taker_fee_bps: Annotated[float, Field(ge=0, le=100)] = 4.0
    api_key_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")] = "RAYTRADER_VENUE_API_KEY"
    api_secret_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")] = (
        "RAYTRADER_VENUE_API_SECRET"  # noqa: S105 - a variable's name, not a secret
    )
    recv_window_ms: Annotated[int, Field(gt=0, le=60_000)] = 5_000
    rest_url: VenueUrl | None = None  # None: the kind's testnet or production REST base
    ws_api_url: VenueUrl | None = None  # None: its WebSocket API
    stream_url: VenueUrl | None = None  # None: its market-stream host
    orphan_orders: Literal["cancel", "refuse"] = "cancel"  # open at the venue, not in the log

    @model_validator(mode="after")
    def _known_exchange(self) -> Self:
        """``kind: ccxt`` names one of ``ccxt.exchanges`` (ccxt is the ``ccxt`` extra)."""
        if self.kind is VenueKind.CCXT:
            from trading.execution.ccxt_venue import check_exchange_id

            check_exchange_id(self.exchange)
        return self

    def credentials(self) -> VenueCredentials | None:
        """The key and secret from ``api_key_env``/``api_secret_env``; None if neither is set,
        a ``ValueError`` naming the missing variable if only one is."""
        key, secret = os.environ.get(self.api_key_env), os.environ.get(self.api_secret_env)
        if not key and not secret:
            return None
        if not key or not secret:
            missing = self.api_secret_env if key else self.api_key_env
            raise ValueError(f"venue credentials: {missing} is not set")
        return VenueCredentials(api_key=SecretStr(key), api_secret=SecretStr(secret))


class FeatureFlags(Section):
    llm_opinion: bool = True
    hot_reload: bool = True
    flatten_on_safe_mode: bool = False


class SignalSettings(Section):
    """Confluence weights, regime thresholds and calibration of ``trading.signals``."""

    indicator_weight: Annotated[float, Field(ge=0)] = 0.5
    pattern_weight: Annotated[float, Field(ge=0)] = 0.35
    llm_weight: Annotated[float, Field(ge=0)] = 0.15
    indicator_weights: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: {"trend": 0.35, "macd": 0.25, "rsi": 0.2, "stoch": 0.1, "di": 0.1}
    )
    pattern_weights: dict[PatternKind, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: {
            PatternKind.SUPPORT: 0.6,
            PatternKind.RESISTANCE: 0.6,
            PatternKind.TREND_LINE: 0.3,
            PatternKind.RANGE_BREAKOUT: 0.8,
            PatternKind.TREND_LINE_BREAK: 0.6,
            PatternKind.LEVEL_BREAK: 0.8,
            PatternKind.RETEST: 0.7,
            PatternKind.FALSE_BREAK: 0.8,
            PatternKind.PIN_BAR: 0.6,
            PatternKind.ENGULFING: 0.5,
            PatternKind.MORNING_STAR: 0.7,
            PatternKind.EVENING_STAR: 0.7,
            PatternKind.REGULAR_DIVERGENCE: 0.6,
            PatternKind.HIDDEN_DIVERGENCE: 0.4,
        }
    )
    pattern_memory_bars: Annotated[int, Field(ge=1, le=50)] = 5
    pattern_decay: Annotated[float, Field(gt=0, le=1)] = 0.7
    timeframe_weights: dict[Timeframe, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: {
            Timeframe.M15: 0.15,
            Timeframe.H1: 0.25,
            Timeframe.H4: 0.3,
            Timeframe.D1: 0.3,
        }
    )
    volatility_adapt: Annotated[float, Field(ge=0, le=2)] = 0.8
    atr_percentile_bars: Annotated[int, Field(ge=10)] = 100
    regime_timeframe: Timeframe = Timeframe.H4
    regime_enter: Annotated[float, Field(gt=0, le=1)] = 0.35
    regime_exit: Annotated[float, Field(gt=0, le=1)] = 0.15
    high_vol_enter: Annotated[float, Field(gt=0, le=1)] = 0.8
    high_vol_exit: Annotated[float, Field(gt=0, le=1)] = 0.6
    regime_bias: Annotated[float, Field(ge=0, lt=1)] = 0.15
    direction_threshold: Annotated[float, Field(ge=0, lt=1)] = 0.1
    calibration_window: Annotated[int, Field(ge=50)] = 2000
    calibration_refit_bars: Annotated[int, Field(ge=1)] = 100
    calibration_bins: Annotated[int, Field(ge=2, le=100)] = 10
    calibration_min_samples: Annotated[int, Field(ge=10)] = 200
    outcome_horizon_bars: Annotated[int, Field(ge=1)] = 4
    # the LLM second opinion (``trading.signals.second_opinion``): asked about signals at least
    # this confident, rechecked after min minutes while it agrees, doubling up to max otherwise
    llm_min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.55
    llm_check_min_minutes: Annotated[int, Field(ge=1)] = 15
    llm_check_max_minutes: Annotated[int, Field(ge=1)] = 240

    @model_validator(mode="after")
    def _check_thresholds(self) -> Self:
        if self.llm_check_max_minutes < self.llm_check_min_minutes:
            raise ValueError(
                f"llm_check_max_minutes {self.llm_check_max_minutes} must not be below "
                f"llm_check_min_minutes {self.llm_check_min_minutes}"
            )
        if self.regime_exit >= self.regime_enter:
            raise ValueError(
                f"regime_exit {self.regime_exit} must be below regime_enter {self.regime_enter}"
            )
        if self.high_vol_exit >= self.high_vol_enter:
            raise ValueError(
                f"high_vol_exit {self.high_vol_exit} must be below "
                f"high_vol_enter {self.high_vol_enter}"
            )
        unknown = sorted(set(self.indicator_weights) - {"trend", "macd", "rsi", "stoch", "di"})
        if unknown:
            raise ValueError(f"indicator_weights: unknown components {unknown}")
        return self


class SecuritySettings(Section):
    """The HTTP API's guard: where API tokens live (default ``<data-dir>/tokens.json``), rate
    limits (``limits`` notation, e.g. ``60/minute``; failed authentications count per address),
    the request-body ceiling, CORS origins (none: CORS off) and where reloadable configs live.
    ``require_signed_config``: every config must carry an ed25519 ``.sig`` by one of
    ``config_public_keys`` (key id -> public key PEM, relative to the config's folder).
    ``journal_signing_key``: an ed25519 private key (PEM, 0600) that signs the journal's chain
    head every ``journal_checkpoint_every`` records (``raytrader audit verify --public-key``).
    ``secrets_provider``: where venue keys, LLM keys and the journal's HMAC key are read
    (``env``; ``file``, a 0600 YAML; ``vault``, KV v2 with the token in ``vault_token_env``)."""

    token_store: str | None = None
    rate_limit_per_token: Annotated[str, Field(pattern=_RATE)] = "300/minute"  # noqa: S105
    rate_limit_per_address: Annotated[str, Field(pattern=_RATE)] = "600/minute"
    auth_failures_per_address: Annotated[str, Field(pattern=_RATE)] = "20/minute"
    max_body_bytes: Annotated[int, Field(ge=256)] = 65_536
    cors_origins: tuple[str, ...] = ()
    reload_dir: str | None = None
    require_signed_config: bool = False
    config_public_keys: dict[str, str] = Field(default_factory=dict)
    journal_signing_key: str | None = None
    journal_signing_key_id: str | None = None
    journal_checkpoint_every: Annotated[int, Field(ge=1)] = 1000
    secrets_provider: Literal["env", "file", "vault"] = "env"
    secrets_file: str | None = None
    vault_url: str | None = None
    vault_mount: str = "secret"
    vault_prefix: str = "raytrader"
    vault_token_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")] = "VAULT_TOKEN"  # noqa: S105

    @model_validator(mode="after")
    def _provider_is_complete(self) -> Self:
        if self.secrets_provider == "file" and not self.secrets_file:  # pragma: allowlist secret
            raise ValueError("secrets_provider file needs secrets_file")
        if self.secrets_provider == "vault" and not self.vault_url:  # pragma: allowlist secret
            raise ValueError("secrets_provider vault needs vault_url")
        return self


class ObservabilitySettings(Section):
    """Traces: OTLP/HTTP to ``otlp_endpoint`` (e.g. ``http://127.0.0.1:4318/v1/traces``; None:
    tracing off), a ``sample_ratio`` of steps traced, batches exported every ``export_delay_ms``.
    ``log_format``: ``text`` or ``json`` lines carrying trace and span ids."""

    otlp_endpoint: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] | None = None
    sample_ratio: Annotated[float, Field(ge=0, le=1)] = 1.0
    export_delay_ms: Annotated[int, Field(ge=10, le=60_000)] = 1_000
    service_name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")] = "raytrader"
    log_format: Literal["text", "json"] = "text"


class Settings(BaseSettings):
    """The whole configuration. Environment overrides beat the YAML file."""

    model_config = SettingsConfigDict(
        env_prefix="RAYTRADER__",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    symbols: Annotated[tuple[Symbol, ...], Field(min_length=1)]
    base_timeframe: Timeframe = Timeframe.M5
    timeframes: Annotated[tuple[Timeframe, ...], Field(min_length=1)] = Timeframe.analysis()
    risk: RiskLimits = Field(default_factory=RiskLimits)
    router: RouterSettings = Field(default_factory=RouterSettings)
    venue: VenueSettings = Field(default_factory=VenueSettings)
    features: FeatureFlags = Field(default_factory=FeatureFlags)
    signals: SignalSettings = Field(default_factory=SignalSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)

    @model_validator(mode="after")
    def _check_timeframes(self) -> Self:
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"symbols: duplicates in {list(self.symbols)}")
        if self.base_timeframe not in (Timeframe.M1, Timeframe.M5):
            raise ValueError(f"base_timeframe must be 1m or 5m, got {self.base_timeframe}")
        too_fine = [tf.value for tf in self.timeframes if tf.seconds <= self.base_timeframe.seconds]
        if too_fine:
            raise ValueError(
                f"timeframes {too_fine} are not coarser than base_timeframe {self.base_timeframe}"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init kwargs; the environment must win over it.
        return (env_settings, init_settings)


def config_signature(data: bytes, key: str) -> str:
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


def sign_config(path: Path, key: str) -> Path:
    """Write ``<path>.sig`` with the HMAC-SHA256 of the file's bytes."""
    signature_path = path.with_name(path.name + ".sig")
    signature_path.write_text(config_signature(path.read_bytes(), key) + "\n")
    return signature_path


def _verify_signature(path: Path, data: bytes, key: str) -> None:
    signature_path = path.with_name(path.name + ".sig")
    if not signature_path.is_file():
        raise ConfigError(path, [f"{SIGNATURE_KEY_ENV} is set but {signature_path} is missing"])
    expected = config_signature(data, key)
    if not hmac.compare_digest(signature_path.read_text().strip(), expected):
        raise ConfigError(path, [f"signature in {signature_path} does not match the file"])


def _over_defaults(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """Another file layers over the bundled defaults: its mappings merge key by key, its
    other values (lists included) replace the default's."""
    if path.resolve() == DEFAULT_CONFIG.resolve():
        return raw
    defaults = yaml.safe_load(DEFAULT_CONFIG.read_text()) or {}
    return _merged(defaults, raw)


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        both = isinstance(below, dict) and isinstance(value, dict)
        merged[key] = _merged(below, value) if both else value  # type: ignore[arg-type]
    return merged


def _problem(error: Any) -> str:
    """``key: message (got value)``, naming the environment variable when one set the key;
    a mapping's or list's value is never shown (the whole config would be)."""
    loc = error["loc"]
    variable = "RAYTRADER__" + "__".join(str(part).upper() for part in loc)
    source = f" (from environment variable {variable})" if variable in os.environ else ""
    value = error["input"]
    shown = "" if isinstance(value, dict | list) or error["type"] == "missing" else value
    got = f" (got {repr(shown)[:80]})" if shown != "" else ""
    return f"{_key_path(loc)}: {error['msg']}{got}{source}"


def _key_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "<root>"


def _verify_signed(path: Path, data: bytes, own: SecuritySettings, trust: Settings | None) -> None:
    """The ed25519 signature a config needs when it (or ``trust``, the running session's
    settings, whose keys then decide) requires one; ``ConfigError`` naming why not."""
    anchor = trust.security if trust is not None else own
    if not (own.require_signed_config or anchor.require_signed_config):
        return
    try:
        keys = load_public_keys(anchor.config_public_keys, path.resolve().parent)
        verify_file(path, keys, data)
    except (SignatureError, KeyFileError) as exc:
        raise ConfigError(path, [f"signature: {exc}"]) from None


def load_settings(
    path: Path | None = None, *, verify_signature: bool = True, trust: Settings | None = None
) -> Settings:
    """Read, verify and validate a config file (default: ``configs/default.yaml``); with
    ``trust`` (a hot reload), the running settings decide whether and by whom it must be signed."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, [f"cannot read: {exc.strerror}"]) from exc
    key = os.environ.get(SIGNATURE_KEY_ENV)
    if key and verify_signature:
        _verify_signature(path, data, key)
    if verify_signature and trust is not None and trust.security.require_signed_config:
        _verify_signed(path, data, trust.security, trust)  # before its content is parsed
    try:
        raw: Any = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise ConfigError(path, [f"invalid YAML: {exc}"]) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, [f"top level must be a mapping, got {type(raw).__name__}"])
    try:
        settings = Settings(**_over_defaults(raw, path))
    except ValidationError as exc:
        raise ConfigError(path, [_problem(err) for err in exc.errors(include_url=False)]) from exc
    if verify_signature:
        _verify_signed(path, data, settings.security, trust)
    return _with_absolute_keys(settings, path.resolve().parent)


def _with_absolute_keys(settings: Settings, base: Path) -> Settings:
    """Key paths resolved against the config's folder, so a reload trusts the same files."""
    own = settings.security
    if not own.config_public_keys and own.journal_signing_key is None:
        return settings
    keys = {
        key_id: str(base / Path(name).expanduser())
        for key_id, name in own.config_public_keys.items()
    }
    journal_key = own.journal_signing_key
    update = {
        "config_public_keys": keys,
        "journal_signing_key": str(base / Path(journal_key).expanduser()) if journal_key else None,
    }
    return settings.model_copy(update={"security": own.model_copy(update=update)})
