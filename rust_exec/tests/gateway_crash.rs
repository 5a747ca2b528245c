//! Random interleavings of submits, venue fills, cancels and crashes (with torn log tails):
//! the venue never sees a client id twice, fills never exceed order quantity, and after
//! reconciliation the gateway agrees with the venue and positions equal the sum of fills.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_exec::contracts::from_json;
use rust_exec::gateway::{Gateway, SubmitOutcome, VenueFill, VenueReport};
use rust_exec::order::OrderEvent;
use rust_exec::wal::FsyncPolicy;
use rust_exec::{Liquidity, OrderIntent, OrderStatus, Side, UtcTime};

/// A venue that remembers every order it ever accepted, by client id.
#[derive(Default)]
struct Venue {
    orders: BTreeMap<String, VenueOrder>,
    duplicate_submissions: u32,
    next_trade: u64,
}

struct VenueOrder {
    side: Side,
    quantity: Decimal,
    fills: Vec<VenueFill>,
    canceled: bool,
}

impl Venue {
    fn place(&mut self, intent: &OrderIntent) {
        if self.orders.contains_key(&intent.client_order_id) {
            self.duplicate_submissions += 1;
            return;
        }
        self.orders.insert(
            intent.client_order_id.clone(),
            VenueOrder {
                side: intent.side,
                quantity: intent.quantity,
                fills: Vec::new(),
                canceled: false,
            },
        );
    }

    fn filled(order: &VenueOrder) -> Decimal {
        order.fills.iter().map(|f| f.quantity).sum()
    }

    /// Fill up to `quantity` of a resting order; returns the execution, if any.
    fn fill(&mut self, id: &str, quantity: Decimal, ts: UtcTime) -> Option<VenueFill> {
        let order = self.orders.get_mut(id)?;
        let open = order.quantity - Venue::filled(order);
        if order.canceled || open.is_zero() {
            return None;
        }
        self.next_trade += 1;
        let fill = VenueFill {
            trade_id: format!("T{}", self.next_trade),
            quantity: quantity.min(open),
            price: Decimal::from(100 + self.next_trade % 7),
            fee: Decimal::ZERO,
            fee_asset: "USDT".into(),
            liquidity: Liquidity::Taker,
            ts,
        };
        order.fills.push(fill.clone());
        Some(fill)
    }

    fn report(&self, id: &str, ts: UtcTime) -> VenueReport {
        match self.orders.get(id) {
            None => VenueReport {
                found: false,
                status: None,
                venue_order_id: None,
                fills: vec![],
                reason: None,
                ts,
            },
            Some(order) => VenueReport {
                found: true,
                status: Some(if order.canceled {
                    OrderStatus::Canceled
                } else if Venue::filled(order) == order.quantity {
                    OrderStatus::Filled
                } else {
                    OrderStatus::Accepted
                }),
                venue_order_id: Some(format!("V-{id}")),
                fills: order.fills.clone(),
                reason: None,
                ts,
            },
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Submit intent k; `crash_before_send` simulates dying after the log write.
    Submit {
        k: usize,
        crash_before_send: bool,
    },
    Fill {
        k: usize,
        lots: u32,
        deliver: bool,
    },
    Cancel {
        k: usize,
    },
    Crash {
        tear_bytes: usize,
    },
    Checkpoint,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => (0usize..12, prop::bool::weighted(0.15))
            .prop_map(|(k, crash_before_send)| Op::Submit { k, crash_before_send }),
        3 => (0usize..12, 1u32..6, prop::bool::weighted(0.8))
            .prop_map(|(k, lots, deliver)| Op::Fill { k, lots, deliver }),
        1 => (0usize..12).prop_map(|k| Op::Cancel { k }),
        1 => (0usize..40).prop_map(|tear_bytes| Op::Crash { tear_bytes }),
        1 => Just(Op::Checkpoint),
    ];
    prop::collection::vec(op, 1..60)
}

fn intent(k: usize) -> OrderIntent {
    let side = if k % 3 == 0 { "SELL" } else { "BUY" };
    from_json(&format!(
        r#"{{"client_order_id":"rt-{k}","strategy":"prop","symbol":"BTC/USDT","side":"{side}",
        "order_type":"MARKET","quantity":"{}","limit_price":null,"stop_price":null,
        "time_in_force":"GTC","reduce_only":false,"signal_time":"2025-01-01T00:00:00Z",
        "created_at":"2025-01-01T00:00:00Z"}}"#,
        k + 2
    ))
    .unwrap()
}

fn now(step: usize) -> UtcTime {
    UtcTime::from_micros(1_735_689_600_000_000 + step as i64 * 1_000).unwrap()
}

fn open(dir: &Path, venue: &mut Venue, step: usize) -> Gateway {
    let (mut gateway, report) = Gateway::open(dir, FsyncPolicy::Never, 25).unwrap();
    for id in report.awaiting_reconciliation {
        let outcome = gateway
            .reconcile(&id, &venue.report(&id, now(step)))
            .unwrap();
        if let Some(resend) = outcome.resend {
            venue.place(&resend);
            let accepted = OrderEvent::Accepted {
                venue_order_id: format!("V-{id}"),
            };
            gateway
                .apply_events(&[(id.clone(), now(step), accepted)])
                .unwrap();
        }
    }
    assert!(gateway.awaiting_reconciliation().is_empty());
    gateway
}

/// Deliver the fills the venue made for `id` that the gateway has not heard of yet, in order.
fn deliver_queued(
    gateway: &mut Gateway,
    undelivered: &mut HashMap<String, Vec<VenueFill>>,
    id: &str,
    ts: UtcTime,
) {
    let events: Vec<_> = undelivered
        .remove(id)
        .unwrap_or_default()
        .into_iter()
        .map(|fill| {
            let event = OrderEvent::Filled {
                trade_id: fill.trade_id,
                quantity: fill.quantity,
                price: fill.price,
                fee: fill.fee,
                fee_asset: fill.fee_asset,
                liquidity: fill.liquidity,
            };
            (id.to_string(), ts, event)
        })
        .collect();
    for result in gateway.apply_events(&events).unwrap() {
        result.unwrap();
    }
}

fn tear(dir: &Path, bytes: usize) {
    let mut logs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    if let Some(last) = logs.last() {
        let len = fs::metadata(last).unwrap().len();
        let file = fs::OpenOptions::new().write(true).open(last).unwrap();
        file.set_len(len.saturating_sub(bytes as u64)).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn crashes_never_duplicate_orders_and_state_reconciles(ops in ops(), seed in any::<u32>()) {
        let dir = std::env::temp_dir().join(format!("rt-crash-{}-{seed}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut venue = Venue::default();
        let mut gateway = open(&dir, &mut venue, 0);
        // Events the venue produced that the gateway has not heard of yet (lost on a crash).
        let mut undelivered: HashMap<String, Vec<VenueFill>> = HashMap::new();
        for (step, op) in ops.iter().enumerate() {
            match op {
                Op::Submit { k, crash_before_send } => {
                    let outcomes = gateway.submit(&[intent(*k)], &HashMap::new(), now(step)).unwrap();
                    if let [SubmitOutcome::Send { intent, .. }] = &outcomes[..] {
                        if *crash_before_send {
                            drop(gateway);
                            gateway = open(&dir, &mut venue, step);
                            continue;
                        }
                        venue.place(intent);
                        let id = intent.client_order_id.clone();
                        let accepted = OrderEvent::Accepted { venue_order_id: format!("V-{id}") };
                        gateway.apply_events(&[(id, now(step), accepted)]).unwrap();
                    }
                }
                Op::Fill { k, lots, deliver } => {
                    let id = format!("rt-{k}");
                    if let Some(fill) = venue.fill(&id, Decimal::from(*lots), now(step)) {
                        undelivered.entry(id.clone()).or_default().push(fill);
                        if *deliver {
                            deliver_queued(&mut gateway, &mut undelivered, &id, now(step));
                        }
                    }
                }
                Op::Cancel { k } => {
                    let id = format!("rt-{k}");
                    let open_at_venue = venue.orders.get(&id).is_some_and(|o| !o.canceled
                        && Venue::filled(o) < o.quantity);
                    if open_at_venue {
                        venue.orders.get_mut(&id).unwrap().canceled = true;
                        // The venue's stream is ordered per order: earlier fills arrive first.
                        deliver_queued(&mut gateway, &mut undelivered, &id, now(step));
                        let events = [
                            (id.clone(), now(step), OrderEvent::CancelRequested),
                            (id, now(step), OrderEvent::Canceled),
                        ];
                        for result in gateway.apply_events(&events).unwrap() {
                            result.unwrap();
                        }
                    }
                }
                Op::Crash { tear_bytes } => {
                    drop(gateway);
                    tear(&dir, *tear_bytes);
                    gateway = open(&dir, &mut venue, step);
                    undelivered.clear();
                }
                Op::Checkpoint => gateway.checkpoint().unwrap(),
            }
        }
        drop(gateway);
        let gateway = open(&dir, &mut venue, ops.len());
        prop_assert_eq!(venue.duplicate_submissions, 0);
        let mut venue_net = BTreeMap::new();
        for (id, order) in &venue.orders {
            let state = gateway.state(id).expect("every venue order is known to the gateway");
            prop_assert_eq!(state.filled_quantity, Venue::filled(order), "{}", id);
            prop_assert!(state.filled_quantity <= state.quantity);
            let signed = if order.side == Side::Buy { Venue::filled(order) } else { -Venue::filled(order) };
            *venue_net.entry("BTC/USDT".to_string()).or_insert(Decimal::ZERO) += signed;
        }
        let gateway_net: BTreeMap<_, _> = gateway.positions().into_iter().filter(|(_, q)| !q.is_zero()).collect();
        let venue_net: BTreeMap<_, _> = venue_net.into_iter().filter(|(_, q)| !q.is_zero()).collect();
        prop_assert_eq!(gateway_net, venue_net);
        let _ = fs::remove_dir_all(&dir);
    }
}
