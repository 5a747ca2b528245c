//! The execution gateway's state: every order by client id, durable through the WAL.
//!
//! Exactly-once rests on three rules: (1) an intent is logged, with its `Submitted` transition,
//! before the caller may send it to the venue; (2) a client id seen before is answered from
//! state and never sent again; (3) after a restart, every order whose venue outcome is unknown
//! must be reconciled against the venue before any new intent is accepted.
//!
//! The gateway does no I/O to venues itself: the caller sends what `submit` says to send and
//! feeds the venue's answers back through `apply_events` and `reconcile`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::contracts::{Liquidity, OrderIntent, OrderState, OrderStatus, Side, UtcTime, Validate};
use crate::error::ContractError;
use crate::order::{Applied, Order, OrderError, OrderEvent};
use crate::rules::InstrumentRules;
use crate::wal::{FsyncPolicy, Wal, WalError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Record {
    Intent {
        intent: OrderIntent,
    },
    Event {
        client_order_id: String,
        ts: UtcTime,
        event: OrderEvent,
    },
}

#[derive(Debug, Error)]
pub enum GatewayError {
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error("{pending} order(s) await reconciliation with the venue before new intents: {first}")]
    NotReconciled { pending: usize, first: String },
    #[error("unknown client_order_id {0:?}")]
    UnknownOrder(String),
    #[error("log replay failed at seq {seq}: {source}")]
    Replay { seq: u64, source: OrderError },
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Contract(#[from] ContractError),
}

/// What the caller must do with one submitted intent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SubmitOutcome {
    /// New: logged as SUBMITTED; send exactly this (rounded) intent to the venue.
    Send {
        intent: OrderIntent,
        state: OrderState,
    },
    /// Seen before: do not send; here is what we know.
    Duplicate { state: OrderState },
    /// Refused before the venue by the instrument rules; logged as REJECTED.
    Rejected { state: OrderState },
}

/// One venue-reported execution, as reconciliation receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueFill {
    pub trade_id: String,
    pub quantity: Decimal,
    pub price: Decimal,
    pub fee: Decimal,
    pub fee_asset: String,
    pub liquidity: Liquidity,
    pub ts: UtcTime,
}

/// The venue's answer to "what do you know of client id X?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueReport {
    pub found: bool,
    pub status: Option<OrderStatus>,
    pub venue_order_id: Option<String>,
    #[serde(default)]
    pub fills: Vec<VenueFill>,
    pub reason: Option<String>,
    pub ts: UtcTime,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconcileOutcome {
    pub state: OrderState,
    /// The venue never saw the order: send the same intent again (same client id).
    pub resend: Option<OrderIntent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    pub orders: usize,
    pub replayed_records: usize,
    pub torn_tail_bytes: u64,
    pub awaiting_reconciliation: Vec<String>,
}

/// What a snapshot holds. Instrument rules are configuration, set again on every start; the
/// orders awaiting reconciliation derive from the open orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GatewayState {
    orders: Vec<Order>,
}

pub struct Gateway {
    orders: HashMap<String, Order>,
    rules: HashMap<String, InstrumentRules>,
    unreconciled: BTreeSet<String>,
    wal: Wal,
    snapshot_every: u64,
    records_since_snapshot: u64,
}

impl Gateway {
    /// Rebuild from snapshot + log in `dir`; orders left open await reconciliation.
    pub fn open(
        dir: &Path,
        policy: FsyncPolicy,
        snapshot_every: u64,
    ) -> Result<(Gateway, RecoveryReport), GatewayError> {
        let (wal, recovered) = Wal::open::<Record, GatewayState>(dir, policy)?;
        let mut gateway = Gateway {
            orders: HashMap::new(),
            rules: HashMap::new(),
            unreconciled: BTreeSet::new(),
            wal,
            snapshot_every: snapshot_every.max(1),
            records_since_snapshot: recovered.entries.len() as u64,
        };
        if let Some(snapshot) = recovered.snapshot {
            gateway.orders = snapshot
                .state
                .orders
                .into_iter()
                .map(|o| (o.client_order_id().to_string(), o))
                .collect();
        }
        for entry in &recovered.entries {
            gateway
                .replay(&entry.record)
                .map_err(|source| GatewayError::Replay {
                    seq: entry.seq,
                    source,
                })?;
        }
        gateway.unreconciled.extend(
            gateway
                .orders
                .values()
                .filter(|o| !o.status.is_terminal())
                .map(|o| o.client_order_id().to_string()),
        );
        let report = RecoveryReport {
            orders: gateway.orders.len(),
            replayed_records: recovered.entries.len(),
            torn_tail_bytes: recovered.torn_tail_bytes,
            awaiting_reconciliation: gateway.unreconciled.iter().cloned().collect(),
        };
        Ok((gateway, report))
    }

    fn replay(&mut self, record: &Record) -> Result<(), OrderError> {
        match record {
            Record::Intent { intent } => {
                self.orders
                    .entry(intent.client_order_id.clone())
                    .or_insert_with(|| Order::new(intent.clone()));
            }
            Record::Event {
                client_order_id,
                ts,
                event,
            } => {
                if let Some(order) = self.orders.get_mut(client_order_id) {
                    order.apply(event, *ts)?;
                }
            }
        }
        Ok(())
    }

    pub fn set_rules(&mut self, rules: InstrumentRules) -> Result<(), GatewayError> {
        rules.validate().map_err(|v| ContractError::Inconsistent {
            field: "rules",
            reason: v.to_string(),
        })?;
        self.rules.insert(rules.symbol.clone(), rules);
        Ok(())
    }

    pub fn rules(&self, symbol: &str) -> Option<&InstrumentRules> {
        self.rules.get(symbol)
    }

    /// Orders whose venue outcome must be confirmed before new intents are accepted.
    pub fn awaiting_reconciliation(&self) -> Vec<String> {
        self.unreconciled.iter().cloned().collect()
    }

    /// Log and admit a batch of intents (one group commit); see `SubmitOutcome`.
    /// `reference_prices` (symbol -> price) lets market orders be checked for min notional.
    pub fn submit(
        &mut self,
        intents: &[OrderIntent],
        reference_prices: &HashMap<String, Decimal>,
        now: UtcTime,
    ) -> Result<Vec<SubmitOutcome>, GatewayError> {
        if let Some(first) = self.unreconciled.iter().next() {
            return Err(GatewayError::NotReconciled {
                pending: self.unreconciled.len(),
                first: first.clone(),
            });
        }
        enum Pending {
            Known(OrderState),
            Staged(usize),
        }
        let mut records = Vec::with_capacity(intents.len() * 2);
        let mut staged: Vec<Order> = Vec::new();
        let mut pending = Vec::with_capacity(intents.len());
        let mut batch_ids: HashMap<&str, usize> = HashMap::new();
        for intent in intents {
            intent.validate()?;
            let id = intent.client_order_id.as_str();
            if let Some(order) = self.orders.get(id) {
                pending.push(Pending::Known(order.state()));
                continue;
            }
            if let Some(&index) = batch_ids.get(id) {
                pending.push(Pending::Known(staged[index].state()));
                continue;
            }
            let reference = reference_prices.get(&intent.symbol).copied();
            let (order_intent, event) = match self.rules.get(&intent.symbol) {
                None => (intent.clone(), OrderEvent::Submitted),
                Some(rules) => match rules.conform(intent, reference) {
                    Ok(conformed) => (conformed, OrderEvent::Submitted),
                    Err(violation) => (
                        intent.clone(),
                        OrderEvent::Rejected {
                            reason: violation.to_string(),
                        },
                    ),
                },
            };
            let mut order = Order::new(order_intent.clone());
            order.apply(&event, now)?;
            records.push(Record::Intent {
                intent: order_intent,
            });
            records.push(Record::Event {
                client_order_id: id.to_string(),
                ts: now,
                event,
            });
            batch_ids.insert(id, staged.len());
            pending.push(Pending::Staged(staged.len()));
            staged.push(order);
        }
        if !records.is_empty() {
            self.wal.append(&records)?;
            self.records_since_snapshot += records.len() as u64;
        }
        let outcomes = pending
            .into_iter()
            .map(|p| match p {
                Pending::Known(state) => SubmitOutcome::Duplicate { state },
                Pending::Staged(index) => {
                    let order = &staged[index];
                    if order.status == OrderStatus::Rejected {
                        SubmitOutcome::Rejected {
                            state: order.state(),
                        }
                    } else {
                        SubmitOutcome::Send {
                            intent: order.intent.clone(),
                            state: order.state(),
                        }
                    }
                }
            })
            .collect();
        for order in staged {
            self.orders
                .insert(order.client_order_id().to_string(), order);
        }
        self.maybe_checkpoint()?;
        Ok(outcomes)
    }

    /// Apply venue events (one group commit for the accepted ones). Each event gets its own
    /// result; a rejected event changes nothing and is not logged.
    pub fn apply_events(
        &mut self,
        events: &[(String, UtcTime, OrderEvent)],
    ) -> Result<Vec<Result<OrderState, GatewayError>>, GatewayError> {
        let mut results = Vec::with_capacity(events.len());
        let mut records = Vec::new();
        let mut touched: BTreeMap<String, Order> = BTreeMap::new();
        for (client_order_id, ts, event) in events {
            let current = touched
                .get(client_order_id)
                .or_else(|| self.orders.get(client_order_id));
            let Some(current) = current else {
                results.push(Err(GatewayError::UnknownOrder(client_order_id.clone())));
                continue;
            };
            let mut next = current.clone();
            match next.apply(event, *ts) {
                Ok(applied) => {
                    if applied == Applied::Changed {
                        records.push(Record::Event {
                            client_order_id: client_order_id.clone(),
                            ts: *ts,
                            event: event.clone(),
                        });
                    }
                    results.push(Ok(next.state()));
                    touched.insert(client_order_id.clone(), next);
                }
                Err(source) => results.push(Err(GatewayError::Order(source))),
            }
        }
        if !records.is_empty() {
            self.wal.append(&records)?;
            self.records_since_snapshot += records.len() as u64;
        }
        self.orders.extend(touched);
        self.maybe_checkpoint()?;
        Ok(results)
    }

    /// Bring one order in line with the venue's report; clears it from the reconciliation list.
    pub fn reconcile(
        &mut self,
        client_order_id: &str,
        report: &VenueReport,
    ) -> Result<ReconcileOutcome, GatewayError> {
        let order = self
            .orders
            .get(client_order_id)
            .ok_or_else(|| GatewayError::UnknownOrder(client_order_id.to_string()))?;
        let mut events = Vec::new();
        let mut resend = None;
        if !report.found {
            if order.status == OrderStatus::Submitted && order.fills.is_empty() {
                resend = Some(order.intent.clone());
            } else if !order.status.is_terminal() {
                events.push(OrderEvent::Expired);
            }
        } else {
            if let (OrderStatus::Submitted, Some(id)) = (order.status, &report.venue_order_id) {
                events.push(OrderEvent::Accepted {
                    venue_order_id: id.clone(),
                });
            }
            for fill in &report.fills {
                events.push(OrderEvent::Filled {
                    trade_id: fill.trade_id.clone(),
                    quantity: fill.quantity,
                    price: fill.price,
                    fee: fill.fee,
                    fee_asset: fill.fee_asset.clone(),
                    liquidity: fill.liquidity,
                });
            }
            match report.status {
                Some(OrderStatus::Canceled) => events.push(OrderEvent::Canceled),
                Some(OrderStatus::Expired) => events.push(OrderEvent::Expired),
                Some(OrderStatus::Rejected) => events.push(OrderEvent::Rejected {
                    reason: report
                        .reason
                        .clone()
                        .unwrap_or_else(|| "rejected by venue".to_string()),
                }),
                _ => {}
            }
        }
        let batch: Vec<_> = events
            .into_iter()
            .map(|e| (client_order_id.to_string(), report.ts, e))
            .collect();
        for result in self.apply_events(&batch)? {
            result?;
        }
        self.unreconciled.remove(client_order_id);
        let state = self.orders[client_order_id].state();
        Ok(ReconcileOutcome { state, resend })
    }

    pub fn state(&self, client_order_id: &str) -> Option<OrderState> {
        self.orders.get(client_order_id).map(Order::state)
    }

    pub fn order(&self, client_order_id: &str) -> Option<&Order> {
        self.orders.get(client_order_id)
    }

    pub fn open_orders(&self) -> Vec<OrderState> {
        let mut open: Vec<_> = self
            .orders
            .values()
            .filter(|o| !o.status.is_terminal())
            .map(Order::state)
            .collect();
        open.sort_by(|a, b| a.client_order_id.cmp(&b.client_order_id));
        open
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Net signed quantity per symbol, summed from every fill (positions derive from fills).
    pub fn positions(&self) -> BTreeMap<String, Decimal> {
        let mut net: BTreeMap<String, Decimal> = BTreeMap::new();
        for order in self.orders.values() {
            for fill in &order.fills {
                let signed = match fill.side {
                    Side::Buy => fill.quantity,
                    Side::Sell => -fill.quantity,
                };
                *net.entry(fill.symbol.clone()).or_default() += signed;
            }
        }
        net
    }

    /// Write a snapshot now and compact the log.
    pub fn checkpoint(&mut self) -> Result<(), GatewayError> {
        let mut orders: Vec<Order> = self.orders.values().cloned().collect();
        orders.sort_by(|a, b| a.client_order_id().cmp(b.client_order_id()));
        self.wal.checkpoint(&GatewayState { orders })?;
        self.records_since_snapshot = 0;
        Ok(())
    }

    fn maybe_checkpoint(&mut self) -> Result<(), GatewayError> {
        if self.records_since_snapshot >= self.snapshot_every {
            self.checkpoint()?;
        }
        Ok(())
    }
}
