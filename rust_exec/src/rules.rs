//! Venue trading rules per symbol (Binance's PRICE_FILTER, LOT_SIZE, NOTIONAL filters):
//! prices round to the tick toward the safe side, quantities down to the lot, decimal-exact.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::contracts::{OrderIntent, Side};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentRules {
    pub symbol: String,
    pub tick_size: Decimal,
    pub lot_size: Decimal,
    pub min_quantity: Decimal,
    pub min_notional: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleViolation {
    #[error("{symbol}: {field} must be > 0 in the instrument rules")]
    BadRules { symbol: String, field: &'static str },
    #[error("{symbol}: quantity {quantity} rounds down to {rounded}, below the minimum {minimum}")]
    BelowMinQuantity {
        symbol: String,
        quantity: Decimal,
        rounded: Decimal,
        minimum: Decimal,
    },
    #[error("{symbol}: notional {notional} is below the minimum {minimum}")]
    BelowMinNotional {
        symbol: String,
        notional: Decimal,
        minimum: Decimal,
    },
}

/// Round `value` to a multiple of `step`, toward zero (`down`) or away from it.
pub fn round_to_step(value: Decimal, step: Decimal, down: bool) -> Decimal {
    let strategy = if down {
        RoundingStrategy::ToZero
    } else {
        RoundingStrategy::AwayFromZero
    };
    let steps = (value / step).round_dp_with_strategy(0, strategy);
    (steps * step).normalize()
}

impl InstrumentRules {
    pub fn validate(&self) -> Result<(), RuleViolation> {
        for (field, value) in [
            ("tick_size", self.tick_size),
            ("lot_size", self.lot_size),
            ("min_quantity", self.min_quantity),
        ] {
            if value <= Decimal::ZERO {
                return Err(RuleViolation::BadRules {
                    symbol: self.symbol.clone(),
                    field,
                });
            }
        }
        Ok(())
    }

    /// Buys round down (pay no more, stop triggers no later), sells round up.
    pub fn round_price(&self, price: Decimal, side: Side) -> Decimal {
        round_to_step(price, self.tick_size, side == Side::Buy)
    }

    pub fn round_quantity(&self, quantity: Decimal) -> Decimal {
        round_to_step(quantity, self.lot_size, true)
    }

    /// The intent with prices on the tick grid and quantity on the lot grid, or why it can't be.
    /// Market orders are checked against `reference_price` for the notional when one is given.
    pub fn conform(
        &self,
        intent: &OrderIntent,
        reference_price: Option<Decimal>,
    ) -> Result<OrderIntent, RuleViolation> {
        let quantity = self.round_quantity(intent.quantity);
        if quantity < self.min_quantity || quantity.is_zero() {
            return Err(RuleViolation::BelowMinQuantity {
                symbol: self.symbol.clone(),
                quantity: intent.quantity,
                rounded: quantity,
                minimum: self.min_quantity,
            });
        }
        let limit_price = intent.limit_price.map(|p| self.round_price(p, intent.side));
        let stop_price = intent.stop_price.map(|p| self.round_price(p, intent.side));
        if let Some(price) = limit_price.or(stop_price).or(reference_price) {
            let notional = price * quantity;
            if !intent.reduce_only && notional < self.min_notional {
                return Err(RuleViolation::BelowMinNotional {
                    symbol: self.symbol.clone(),
                    notional,
                    minimum: self.min_notional,
                });
            }
        }
        Ok(OrderIntent {
            quantity,
            limit_price,
            stop_price,
            ..intent.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    /// Binance spot BTCUSDT filters (snapshot): tick 0.01, step 0.00001, min notional 5.
    fn btc() -> InstrumentRules {
        InstrumentRules {
            symbol: "BTC/USDT".into(),
            tick_size: d("0.01"),
            lot_size: d("0.00001"),
            min_quantity: d("0.00001"),
            min_notional: d("5"),
        }
    }

    #[test]
    fn prices_round_to_the_safe_side_of_the_tick() {
        assert_eq!(btc().round_price(d("60000.019"), Side::Buy), d("60000.01"));
        assert_eq!(btc().round_price(d("60000.011"), Side::Sell), d("60000.02"));
        assert_eq!(btc().round_price(d("60000.01"), Side::Sell), d("60000.01"));
    }

    fn intent(quantity: &str, limit: Option<&str>, reduce_only: bool) -> OrderIntent {
        let json = format!(
            r#"{{"client_order_id":"rt-1","strategy":"s","symbol":"BTC/USDT","side":"BUY",
            "order_type":"{}","quantity":"{quantity}","limit_price":{},"stop_price":null,
            "time_in_force":"GTC","reduce_only":{reduce_only},
            "signal_time":"2024-01-01T00:00:00Z","created_at":"2024-01-01T00:00:00Z"}}"#,
            if limit.is_some() { "LIMIT" } else { "MARKET" },
            limit.map_or("null".to_string(), |p| format!("\"{p}\"")),
        );
        crate::contracts::from_json(&json).unwrap()
    }

    #[test]
    fn quantity_rounds_down_to_the_lot() {
        assert_eq!(btc().round_quantity(d("0.123456789")), d("0.12345"));
        let conformed = btc().conform(&intent("0.123456789", Some("60000.019"), false), None);
        let conformed = conformed.unwrap();
        assert_eq!(conformed.quantity, d("0.12345"));
        assert_eq!(conformed.limit_price, Some(d("60000.01")));
    }

    #[test]
    fn below_min_quantity_and_min_notional_are_violations() {
        let tiny = btc().conform(&intent("0.000009", None, false), None);
        assert!(matches!(tiny, Err(RuleViolation::BelowMinQuantity { .. })));
        let small = btc().conform(&intent("0.00008", Some("60000"), false), None);
        assert_eq!(
            small,
            Err(RuleViolation::BelowMinNotional {
                symbol: "BTC/USDT".into(),
                notional: d("4.80000"),
                minimum: d("5"),
            })
        );
        let market = btc().conform(&intent("0.00008", None, false), Some(d("60000")));
        assert!(matches!(
            market,
            Err(RuleViolation::BelowMinNotional { .. })
        ));
        let closing = btc().conform(&intent("0.00008", Some("60000"), true), None);
        assert!(closing.is_ok(), "reduce-only may close a dust position");
    }

    proptest! {
        #[test]
        fn rounding_lands_on_the_grid_and_never_crosses_the_safe_side(
            cents in 1i64..10_000_000_000, extra in 0i64..100, buy in any::<bool>()
        ) {
            let price = Decimal::new(cents * 100 + extra, 4);
            let side = if buy { Side::Buy } else { Side::Sell };
            let rounded = btc().round_price(price, side);
            prop_assert_eq!((rounded / d("0.01")).fract(), Decimal::ZERO);
            if buy { prop_assert!(rounded <= price) } else { prop_assert!(rounded >= price) }
            prop_assert!((rounded - price).abs() < d("0.01"));
        }
    }
}
