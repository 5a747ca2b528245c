//! The order contracts shared with `trading/contracts.py`: same field names, same enums, same
//! validation rules, same JSON (decimals as plain-notation strings, times as RFC 3339 UTC `Z`).
//!
//! Parsing is two steps: serde builds the struct (shape, types, enum values; errors carry the
//! field path), then `validate()` checks the rules (ranges, precision, cross-field consistency).

use std::fmt;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ContractError;

/// Largest number of significant digits and decimal places a money field may carry.
pub const MAX_DIGITS: u32 = 28;
pub const MAX_DECIMAL_PLACES: u32 = 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Side {
    Buy,
    Sell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderType {
    Market,
    Limit,
    StopMarket,
    StopLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeInForce {
    Gtc,
    Ioc,
    Fok,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Liquidity {
    Maker,
    Taker,
}

/// Lifecycle of an order at the venue, as the gateway tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    New,
    Submitted,
    Accepted,
    PartiallyFilled,
    Filled,
    PendingCancel,
    PendingReplace,
    Canceled,
    Rejected,
    Expired,
}

impl OrderStatus {
    /// No further event can change an order in a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Rejected
                | OrderStatus::Expired
        )
    }
}

/// A UTC instant with microsecond resolution at or after the Unix epoch (Python's `datetime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(DateTime<Utc>);

impl UtcTime {
    pub fn from_micros(micros: i64) -> Option<Self> {
        if micros < 0 {
            return None;
        }
        DateTime::<Utc>::from_timestamp_micros(micros).map(UtcTime)
    }

    pub fn timestamp_micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    /// Parse RFC 3339 text; the offset must be zero (`Z` or `+00:00`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed = DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("not an RFC 3339 time ({e}), got {text:?}"))?;
        if parsed.offset().local_minus_utc() != 0 {
            return Err(format!("must be UTC ('Z' or +00:00), got {text:?}"));
        }
        if parsed.year() < 1970 {
            return Err(format!("must be at or after 1970-01-01, got {text:?}"));
        }
        if parsed.nanosecond() % 1_000 != 0 {
            return Err(format!("finer than microseconds, got {text:?}"));
        }
        Ok(UtcTime(parsed.with_timezone(&Utc)))
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        UtcTime::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What the strategy wants done; the gateway's unit of idempotency is `client_order_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderIntent {
    pub client_order_id: String,
    pub strategy: String,
    pub symbol: String,
    pub side: Side,
    pub order_type: OrderType,
    pub quantity: Decimal,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub time_in_force: TimeInForce,
    pub reduce_only: bool,
    pub signal_time: UtcTime,
    pub created_at: UtcTime,
}

/// One execution reported by the venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fill {
    pub trade_id: String,
    pub client_order_id: String,
    pub symbol: String,
    pub side: Side,
    pub price: Decimal,
    pub quantity: Decimal,
    pub fee: Decimal,
    pub fee_asset: String,
    pub liquidity: Liquidity,
    pub ts: UtcTime,
}

/// The gateway's view of one order: status plus cumulative fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderState {
    pub client_order_id: String,
    pub symbol: String,
    pub side: Side,
    pub status: OrderStatus,
    pub quantity: Decimal,
    pub filled_quantity: Decimal,
    pub avg_fill_price: Option<Decimal>,
    pub venue_order_id: Option<String>,
    pub reject_reason: Option<String>,
    pub updated_at: UtcTime,
}

/// Round a computed value (an average, a ratio) into what the contracts can carry exactly:
/// at most 18 decimal places and 28 digits, half-even.
pub fn fit_precision(value: Decimal) -> Decimal {
    let mut rounded = value.round_dp(MAX_DECIMAL_PLACES).normalize();
    while digits(rounded).max(rounded.scale()) > MAX_DIGITS && rounded.scale() > 0 {
        rounded = rounded.round_dp(rounded.scale() - 1);
    }
    rounded
}

fn digits(value: Decimal) -> u32 {
    let mut m = value.mantissa().unsigned_abs();
    let mut count = 1;
    while m >= 10 {
        m /= 10;
        count += 1;
    }
    count
}

/// Parse and validate one contract from JSON.
pub fn from_json<T: DeserializeOwned + Validate>(json: &str) -> Result<T, ContractError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ContractError::Malformed {
            field: if path == "." { String::new() } else { path },
            message: e.into_inner().to_string(),
        }
    })?;
    de.end().map_err(|e| ContractError::Malformed {
        field: String::new(),
        message: e.to_string(),
    })?;
    value.validate()?;
    Ok(value)
}

/// Serialize a contract to its canonical JSON.
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("contract types serialize infallibly")
}

pub trait Validate {
    fn validate(&self) -> Result<(), ContractError>;
}

impl Validate for OrderIntent {
    fn validate(&self) -> Result<(), ContractError> {
        check_client_order_id("client_order_id", &self.client_order_id)?;
        check_strategy(&self.strategy)?;
        check_symbol("symbol", &self.symbol)?;
        check_positive("quantity", self.quantity)?;
        if let Some(price) = self.limit_price {
            check_positive("limit_price", price)?;
        }
        if let Some(price) = self.stop_price {
            check_positive("stop_price", price)?;
        }
        let (needs_limit, needs_stop) = match self.order_type {
            OrderType::Market => (false, false),
            OrderType::Limit => (true, false),
            OrderType::StopMarket => (false, true),
            OrderType::StopLimit => (true, true),
        };
        check_presence(
            "limit_price",
            self.order_type,
            needs_limit,
            self.limit_price.is_some(),
        )?;
        check_presence(
            "stop_price",
            self.order_type,
            needs_stop,
            self.stop_price.is_some(),
        )
    }
}

impl Validate for Fill {
    fn validate(&self) -> Result<(), ContractError> {
        check_text("trade_id", &self.trade_id, 64)?;
        check_client_order_id("client_order_id", &self.client_order_id)?;
        check_symbol("symbol", &self.symbol)?;
        check_positive("price", self.price)?;
        check_positive("quantity", self.quantity)?;
        check_non_negative("fee", self.fee)?;
        check_asset("fee_asset", &self.fee_asset)
    }
}

impl Validate for OrderState {
    fn validate(&self) -> Result<(), ContractError> {
        check_client_order_id("client_order_id", &self.client_order_id)?;
        check_symbol("symbol", &self.symbol)?;
        check_positive("quantity", self.quantity)?;
        check_non_negative("filled_quantity", self.filled_quantity)?;
        if let Some(price) = self.avg_fill_price {
            check_positive("avg_fill_price", price)?;
        }
        if let Some(id) = &self.venue_order_id {
            check_text("venue_order_id", id, 64)?;
        }
        let inconsistent = |field: &'static str, reason: String| {
            Err(ContractError::Inconsistent { field, reason })
        };
        if self.filled_quantity > self.quantity {
            return inconsistent(
                "filled_quantity",
                format!(
                    "filled {} exceeds order quantity {}",
                    self.filled_quantity, self.quantity
                ),
            );
        }
        if self.filled_quantity.is_zero() == self.avg_fill_price.is_some() {
            return inconsistent(
                "avg_fill_price",
                "must be set exactly when filled_quantity > 0".to_string(),
            );
        }
        let filled = self.filled_quantity;
        let status_ok = match self.status {
            OrderStatus::New | OrderStatus::Submitted | OrderStatus::Rejected => filled.is_zero(),
            OrderStatus::PartiallyFilled => !filled.is_zero() && filled < self.quantity,
            OrderStatus::Filled => filled == self.quantity,
            _ => filled < self.quantity,
        };
        if !status_ok {
            return inconsistent(
                "status",
                format!(
                    "{:?} does not fit filled_quantity {} of {}",
                    self.status, filled, self.quantity
                ),
            );
        }
        if (self.status == OrderStatus::Rejected) != self.reject_reason.is_some() {
            return inconsistent(
                "reject_reason",
                "must be set exactly when status is REJECTED".to_string(),
            );
        }
        Ok(())
    }
}

fn check_presence(
    field: &'static str,
    order_type: OrderType,
    required: bool,
    present: bool,
) -> Result<(), ContractError> {
    if required == present {
        return Ok(());
    }
    let verb = if required {
        "requires"
    } else {
        "must not have"
    };
    Err(ContractError::Inconsistent {
        field,
        reason: format!("{order_type:?} order {verb} {field}"),
    })
}

fn check_precision(field: &'static str, value: Decimal) -> Result<(), ContractError> {
    let scale = value.scale();
    if scale > MAX_DECIMAL_PLACES || digits(value).max(scale) > MAX_DIGITS {
        return Err(ContractError::Precision {
            field,
            value: value.to_string(),
        });
    }
    Ok(())
}

fn check_positive(field: &'static str, value: Decimal) -> Result<(), ContractError> {
    if value <= Decimal::ZERO {
        return Err(ContractError::NotPositive {
            field,
            value: value.to_string(),
        });
    }
    check_precision(field, value)
}

fn check_non_negative(field: &'static str, value: Decimal) -> Result<(), ContractError> {
    if value < Decimal::ZERO {
        return Err(ContractError::Negative {
            field,
            value: value.to_string(),
        });
    }
    check_precision(field, value)
}

fn pattern_error(field: &'static str, value: &str, rule: &'static str) -> ContractError {
    ContractError::Pattern {
        field,
        value: value.to_string(),
        rule,
    }
}

fn is_upper_alnum(part: &str) -> bool {
    (1..=20).contains(&part.len())
        && part
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `BASE/QUOTE` or `BASE/QUOTE:SETTLE`, upper-case alphanumerics (ccxt's unified symbols).
fn check_symbol(field: &'static str, value: &str) -> Result<(), ContractError> {
    const RULE: &str = "must look like BASE/QUOTE or BASE/QUOTE:SETTLE (A-Z, 0-9)";
    let (pair, settle) = match value.split_once(':') {
        Some((pair, settle)) => (pair, Some(settle)),
        None => (value, None),
    };
    let ok = match pair.split_once('/') {
        Some((base, quote)) => {
            is_upper_alnum(base) && is_upper_alnum(quote) && settle.is_none_or(is_upper_alnum)
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(pattern_error(field, value, RULE))
    }
}

fn check_asset(field: &'static str, value: &str) -> Result<(), ContractError> {
    if is_upper_alnum(value) {
        Ok(())
    } else {
        Err(pattern_error(
            field,
            value,
            "must be 1-20 chars of A-Z, 0-9",
        ))
    }
}

/// Binance's `newClientOrderId` alphabet: `^[.A-Z:/a-z0-9_-]{1,36}$`.
fn check_client_order_id(field: &'static str, value: &str) -> Result<(), ContractError> {
    let ok = (1..=36).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(pattern_error(
            field,
            value,
            "must be 1-36 chars of A-Z a-z 0-9 . _ : / -",
        ))
    }
}

/// Lower-case slug: `^[a-z0-9][a-z0-9_-]{0,31}$`.
fn check_strategy(value: &str) -> Result<(), ContractError> {
    let bytes = value.as_bytes();
    let ok = (1..=32).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-');
    if ok {
        Ok(())
    } else {
        Err(pattern_error(
            "strategy",
            value,
            "must be 1-32 chars of a-z 0-9 _ - starting with a letter or digit",
        ))
    }
}

/// Venue-assigned identifiers: 1 to `max_len` printable ASCII characters, no spaces.
fn check_text(field: &'static str, value: &str, max_len: usize) -> Result<(), ContractError> {
    let ok = (1..=max_len).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(pattern_error(
            field,
            value,
            "must be 1-64 printable ASCII characters without spaces",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn intent_json(quantity: &str, order_type: &str, limit: &str) -> String {
        format!(
            r#"{{"client_order_id":"rt-abc","strategy":"sma-cross","symbol":"BTC/USDT","side":"BUY",
            "order_type":"{order_type}","quantity":"{quantity}","limit_price":{limit},"stop_price":null,
            "time_in_force":"GTC","reduce_only":false,"signal_time":"2024-01-01T00:00:00Z",
            "created_at":"2024-01-01T00:00:00.250Z"}}"#
        )
    }

    #[test]
    fn parses_and_reserializes_an_intent_unchanged() {
        let intent: OrderIntent =
            from_json(&intent_json("0.0100", "LIMIT", "\"42000.50\"")).unwrap();
        assert_eq!(intent.quantity, Decimal::from_str("0.0100").unwrap());
        let json = to_json(&intent);
        assert!(json.contains(r#""quantity":"0.0100""#), "{json}");
        assert!(
            json.contains(r#""created_at":"2024-01-01T00:00:00.250Z""#),
            "{json}"
        );
        let again: OrderIntent = from_json(&json).unwrap();
        assert_eq!(again, intent);
    }

    #[test]
    fn zero_quantity_is_rejected_naming_the_field() {
        let err = from_json::<OrderIntent>(&intent_json("0", "MARKET", "null")).unwrap_err();
        assert_eq!(
            err,
            ContractError::NotPositive {
                field: "quantity",
                value: "0".into()
            }
        );
    }

    #[test]
    fn limit_order_without_price_is_rejected() {
        let err = from_json::<OrderIntent>(&intent_json("1", "LIMIT", "null")).unwrap_err();
        assert_eq!(err.field(), "limit_price");
        assert!(
            err.to_string().contains("Limit order requires limit_price"),
            "{err}"
        );
    }

    #[test]
    fn too_many_decimal_places_is_rejected() {
        let err = from_json::<OrderIntent>(&intent_json("0.0000000000000000001", "MARKET", "null"))
            .unwrap_err();
        assert_eq!(err.field(), "quantity");
        assert!(matches!(err, ContractError::Precision { .. }));
    }

    #[test]
    fn non_utc_time_is_rejected_naming_the_field() {
        let json = intent_json("1", "MARKET", "null")
            .replace("2024-01-01T00:00:00Z", "2024-01-01T02:00:00+02:00");
        let err = from_json::<OrderIntent>(&json).unwrap_err();
        assert_eq!(err.field(), "signal_time");
        assert!(err.to_string().contains("must be UTC"), "{err}");
    }

    #[test]
    fn unknown_enum_value_and_unknown_field_are_rejected() {
        let bad_side = intent_json("1", "MARKET", "null").replace("\"BUY\"", "\"HOLD\"");
        assert_eq!(
            from_json::<OrderIntent>(&bad_side).unwrap_err().field(),
            "side"
        );
        let extra = intent_json("1", "MARKET", "null").replace("{", "{\"leverage\":3,");
        let err = from_json::<OrderIntent>(&extra).unwrap_err();
        assert!(err.to_string().contains("leverage"), "{err}");
    }

    #[test]
    fn order_state_rejects_overfill_and_inconsistent_status() {
        let state = |status: &str, filled: &str, avg: &str| {
            format!(
                r#"{{"client_order_id":"rt-1","symbol":"ETH/USDT","side":"SELL","status":"{status}",
                "quantity":"2","filled_quantity":"{filled}","avg_fill_price":{avg},
                "venue_order_id":"123","reject_reason":null,"updated_at":"2025-06-01T12:00:00Z"}}"#
            )
        };
        assert!(from_json::<OrderState>(&state("PARTIALLY_FILLED", "1", "\"3000\"")).is_ok());
        let over = from_json::<OrderState>(&state("FILLED", "2.5", "\"3000\"")).unwrap_err();
        assert_eq!(over.field(), "filled_quantity");
        let status = from_json::<OrderState>(&state("FILLED", "1", "\"3000\"")).unwrap_err();
        assert_eq!(status.field(), "status");
        let avg = from_json::<OrderState>(&state("ACCEPTED", "0", "\"3000\"")).unwrap_err();
        assert_eq!(avg.field(), "avg_fill_price");
    }

    #[test]
    fn symbols_follow_the_unified_format() {
        assert!(check_symbol("symbol", "BTC/USDT").is_ok());
        assert!(check_symbol("symbol", "BTC/USDT:USDT").is_ok());
        for bad in [
            "btc/usdt",
            "BTCUSDT",
            "BTC/",
            "/USDT",
            "BTC/USDT:",
            "BTC-USDT",
        ] {
            assert!(check_symbol("symbol", bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn fill_json_round_trips(
            mantissa in 1i64..i64::MAX,
            scale in 0u32..=18,
            fee_cents in 0i64..1_000_000,
            micros in 0i64..4_102_444_800_000_000,
            maker in any::<bool>(),
        ) {
            let fill = Fill {
                trade_id: format!("T{micros}"),
                client_order_id: crate::client_order_id("p", "SOL/USDT", micros, 1),
                symbol: "SOL/USDT".into(),
                side: Side::Sell,
                price: Decimal::new(mantissa, scale),
                quantity: Decimal::new(mantissa, scale),
                fee: Decimal::new(fee_cents, 2),
                fee_asset: "USDT".into(),
                liquidity: if maker { Liquidity::Maker } else { Liquidity::Taker },
                ts: UtcTime::from_micros(micros).unwrap(),
            };
            fill.validate().unwrap();
            let back: Fill = from_json(&to_json(&fill)).unwrap();
            prop_assert_eq!(back, fill);
        }
    }
}
