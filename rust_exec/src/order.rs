//! One order's life: the explicit `(status, event) -> status` table and cumulative fills.
//!
//! Every venue or gateway event goes through `Order::apply`; an event the table does not allow
//! is a typed `OrderError`, never a panic. Known-benign repeats (a late ack, a fill already
//! seen by trade id) are answered `Applied::Ignored` so replays and duplicate venue messages
//! change nothing.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::contracts::{
    fit_precision, Fill, Liquidity, OrderIntent, OrderState, OrderStatus, UtcTime, Validate,
};
use crate::error::ContractError;

/// Something that happened to an order, at the gateway or at the venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum OrderEvent {
    /// Logged before the venue call: from here on the outcome is unknown until the venue says.
    Submitted,
    Accepted {
        venue_order_id: String,
    },
    Rejected {
        reason: String,
    },
    Filled {
        trade_id: String,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal,
        fee_asset: String,
        liquidity: Liquidity,
    },
    CancelRequested,
    Canceled,
    CancelRejected {
        reason: String,
    },
    ReplaceRequested {
        quantity: Decimal,
        limit_price: Option<Decimal>,
    },
    Replaced {
        quantity: Decimal,
        limit_price: Option<Decimal>,
    },
    ReplaceRejected {
        reason: String,
    },
    Expired,
}

/// The payload-free name of an event: the column of the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Submitted,
    Accepted,
    Rejected,
    Filled,
    CancelRequested,
    Canceled,
    CancelRejected,
    ReplaceRequested,
    Replaced,
    ReplaceRejected,
    Expired,
}

impl OrderEvent {
    pub fn kind(&self) -> EventKind {
        match self {
            OrderEvent::Submitted => EventKind::Submitted,
            OrderEvent::Accepted { .. } => EventKind::Accepted,
            OrderEvent::Rejected { .. } => EventKind::Rejected,
            OrderEvent::Filled { .. } => EventKind::Filled,
            OrderEvent::CancelRequested => EventKind::CancelRequested,
            OrderEvent::Canceled => EventKind::Canceled,
            OrderEvent::CancelRejected { .. } => EventKind::CancelRejected,
            OrderEvent::ReplaceRequested { .. } => EventKind::ReplaceRequested,
            OrderEvent::Replaced { .. } => EventKind::Replaced,
            OrderEvent::ReplaceRejected { .. } => EventKind::ReplaceRejected,
            OrderEvent::Expired => EventKind::Expired,
        }
    }
}

/// What the table says an event does in a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    To(OrderStatus),
    /// Back to the resting status: ACCEPTED, or PARTIALLY_FILLED when something is filled.
    Resting,
    /// A fill: PARTIALLY_FILLED or FILLED by quantity; pending cancel/replace stay pending.
    ByFill,
    /// A repeat of something already reflected (e.g. an ack after the first fill).
    Ignore,
}

/// The transition table. `None` means the event is invalid in that status.
pub fn transition(status: OrderStatus, kind: EventKind) -> Option<Transition> {
    use EventKind as E;
    use OrderStatus as S;
    use Transition::{ByFill, Ignore, Resting, To};
    let live = matches!(
        status,
        S::Submitted | S::Accepted | S::PartiallyFilled | S::PendingCancel | S::PendingReplace
    );
    Some(match (status, kind) {
        (S::New, E::Submitted) => To(S::Submitted),
        (S::New | S::Submitted, E::Rejected) => To(S::Rejected),
        (S::Submitted, E::Accepted) => To(S::Accepted),
        (S::Accepted | S::PartiallyFilled | S::PendingCancel | S::PendingReplace, E::Accepted) => {
            Ignore
        }
        // Venues may report a fill after the cancel/expiry it raced with: keep it, no drift.
        (_, E::Filled) if live || matches!(status, S::Canceled | S::Expired) => ByFill,
        (S::Submitted | S::Accepted | S::PartiallyFilled, E::CancelRequested) => {
            To(S::PendingCancel)
        }
        (S::PendingCancel, E::CancelRequested) => Ignore,
        (_, E::Canceled) if live => To(S::Canceled),
        (S::Canceled, E::Canceled) => Ignore,
        (S::PendingCancel, E::CancelRejected) => Resting,
        (S::Accepted | S::PartiallyFilled, E::ReplaceRequested) => To(S::PendingReplace),
        (S::PendingReplace, E::Replaced) => Resting,
        (S::PendingReplace, E::ReplaceRejected) => Resting,
        (_, E::Expired) if live => To(S::Expired),
        (S::Expired, E::Expired) | (S::Rejected, E::Rejected) => Ignore,
        (S::Filled, E::Accepted) => Ignore,
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OrderError {
    #[error("{client_order_id}: event {event:?} is not allowed in status {status:?}")]
    InvalidTransition {
        client_order_id: String,
        status: OrderStatus,
        event: EventKind,
    },
    #[error("{client_order_id}: fill of {quantity} would exceed the order: {filled} of {ordered} filled")]
    Overfill {
        client_order_id: String,
        quantity: Decimal,
        filled: Decimal,
        ordered: Decimal,
    },
    #[error("{client_order_id}: {field} must be > 0, got {value}")]
    NotPositive {
        client_order_id: String,
        field: &'static str,
        value: Decimal,
    },
    #[error("{client_order_id}: replace quantity {quantity} is below the filled {filled}")]
    ReplaceBelowFilled {
        client_order_id: String,
        quantity: Decimal,
        filled: Decimal,
    },
    #[error("{client_order_id}: {source}")]
    Contract {
        client_order_id: String,
        source: ContractError,
    },
    #[error("{client_order_id}: arithmetic overflow in {what}")]
    Overflow {
        client_order_id: String,
        what: &'static str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    Ignored,
}

/// One order as the gateway tracks it. Fill totals derive from `fills`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub intent: OrderIntent,
    pub status: OrderStatus,
    /// The working quantity: the intent's, or the latest accepted replace.
    pub quantity: Decimal,
    pub limit_price: Option<Decimal>,
    pub fills: Vec<Fill>,
    pub venue_order_id: Option<String>,
    pub reject_reason: Option<String>,
    pub updated_at: UtcTime,
}

impl Order {
    pub fn new(intent: OrderIntent) -> Self {
        Order {
            status: OrderStatus::New,
            quantity: intent.quantity,
            limit_price: intent.limit_price,
            fills: Vec::new(),
            venue_order_id: None,
            reject_reason: None,
            updated_at: intent.created_at,
            intent,
        }
    }

    pub fn client_order_id(&self) -> &str {
        &self.intent.client_order_id
    }

    pub fn filled_quantity(&self) -> Decimal {
        self.fills.iter().map(|f| f.quantity).sum()
    }

    pub fn remaining_quantity(&self) -> Decimal {
        self.quantity - self.filled_quantity()
    }

    /// Volume-weighted average fill price, rounded to the contract's precision.
    pub fn avg_fill_price(&self) -> Option<Decimal> {
        let filled = self.filled_quantity();
        if filled.is_zero() {
            return None;
        }
        let cost = self.fills.iter().try_fold(Decimal::ZERO, |acc, f| {
            acc.checked_add(f.price.checked_mul(f.quantity)?)
        })?;
        cost.checked_div(filled).map(fit_precision)
    }

    /// Apply one event: check the table, the fill invariants, then change state.
    pub fn apply(&mut self, event: &OrderEvent, ts: UtcTime) -> Result<Applied, OrderError> {
        if let OrderEvent::Filled { trade_id, .. } = event {
            if self.fills.iter().any(|f| &f.trade_id == trade_id) {
                return Ok(Applied::Ignored);
            }
        }
        let kind = event.kind();
        let step = transition(self.status, kind).ok_or_else(|| OrderError::InvalidTransition {
            client_order_id: self.client_order_id().to_string(),
            status: self.status,
            event: kind,
        })?;
        if step == Transition::Ignore {
            return Ok(Applied::Ignored);
        }
        match event {
            OrderEvent::Accepted { venue_order_id } => {
                self.venue_order_id = Some(venue_order_id.clone());
            }
            OrderEvent::Rejected { reason } => self.reject_reason = Some(reason.clone()),
            OrderEvent::Filled {
                trade_id,
                quantity,
                price,
                fee,
                fee_asset,
                liquidity,
            } => self.add_fill(trade_id, *quantity, *price, *fee, fee_asset, *liquidity, ts)?,
            OrderEvent::Replaced {
                quantity,
                limit_price,
            } => {
                self.check_positive("quantity", *quantity)?;
                let filled = self.filled_quantity();
                if *quantity < filled {
                    return Err(OrderError::ReplaceBelowFilled {
                        client_order_id: self.client_order_id().to_string(),
                        quantity: *quantity,
                        filled,
                    });
                }
                self.quantity = *quantity;
                if limit_price.is_some() {
                    self.limit_price = *limit_price;
                }
            }
            _ => {}
        }
        let filled = self.filled_quantity();
        let resting = if filled.is_zero() {
            OrderStatus::Accepted
        } else if filled == self.quantity {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        self.status = match step {
            Transition::To(status) => status,
            Transition::Resting => resting,
            Transition::ByFill if filled == self.quantity => OrderStatus::Filled,
            Transition::ByFill => match self.status {
                OrderStatus::PendingCancel
                | OrderStatus::PendingReplace
                | OrderStatus::Canceled
                | OrderStatus::Expired => self.status,
                _ => OrderStatus::PartiallyFilled,
            },
            Transition::Ignore => unreachable!("returned above"),
        };
        self.updated_at = ts;
        Ok(Applied::Changed)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_fill(
        &mut self,
        trade_id: &str,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal,
        fee_asset: &str,
        liquidity: Liquidity,
        ts: UtcTime,
    ) -> Result<(), OrderError> {
        self.check_positive("quantity", quantity)?;
        self.check_positive("price", price)?;
        let filled = self.filled_quantity();
        let after = filled
            .checked_add(quantity)
            .ok_or_else(|| self.overflow("filled quantity"))?;
        if after > self.quantity {
            return Err(OrderError::Overfill {
                client_order_id: self.client_order_id().to_string(),
                quantity,
                filled,
                ordered: self.quantity,
            });
        }
        price
            .checked_mul(quantity)
            .ok_or_else(|| self.overflow("fill notional"))?;
        let fill = Fill {
            trade_id: trade_id.to_string(),
            client_order_id: self.client_order_id().to_string(),
            symbol: self.intent.symbol.clone(),
            side: self.intent.side,
            price,
            quantity,
            fee,
            fee_asset: fee_asset.to_string(),
            liquidity,
            ts,
        };
        fill.validate().map_err(|source| OrderError::Contract {
            client_order_id: self.client_order_id().to_string(),
            source,
        })?;
        self.fills.push(fill);
        Ok(())
    }

    fn check_positive(&self, field: &'static str, value: Decimal) -> Result<(), OrderError> {
        if value > Decimal::ZERO {
            Ok(())
        } else {
            Err(OrderError::NotPositive {
                client_order_id: self.client_order_id().to_string(),
                field,
                value,
            })
        }
    }

    fn overflow(&self, what: &'static str) -> OrderError {
        OrderError::Overflow {
            client_order_id: self.client_order_id().to_string(),
            what,
        }
    }

    /// The contract view shared with Python.
    pub fn state(&self) -> OrderState {
        let filled = self.filled_quantity();
        OrderState {
            client_order_id: self.client_order_id().to_string(),
            symbol: self.intent.symbol.clone(),
            side: self.intent.side,
            status: self.status,
            quantity: self.quantity,
            filled_quantity: filled,
            avg_fill_price: self.avg_fill_price(),
            venue_order_id: self.venue_order_id.clone(),
            reject_reason: self.reject_reason.clone(),
            updated_at: self.updated_at,
        }
    }
}
