//! Thin PyO3 layer over the plain Rust library: strings in, strings out, typed errors mapped to
//! `rust_exec.ContractError` (a `ValueError`) whose `args` are `(message, field)`.

use std::collections::HashMap;
use std::path::PathBuf;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::contracts::{from_json, to_json, Fill, OrderIntent, OrderState, UtcTime, Validate};
use crate::error::ContractError as RustContractError;
use crate::gateway::{Gateway as RustGateway, GatewayError as RustGatewayError, VenueReport};
use crate::order::OrderEvent;
use crate::retry::{
    CircuitBreaker as RustBreaker, Jitter, RetryDecision, RetryPolicy, VenueFailure,
};
use crate::rules::InstrumentRules;
use crate::wal::FsyncPolicy;

pyo3::create_exception!(
    rust_exec,
    ContractError,
    pyo3::exceptions::PyValueError,
    "A contract document was rejected by the Rust side; args are (message, field)."
);

pyo3::create_exception!(
    rust_exec,
    GatewayError,
    PyRuntimeError,
    "The gateway could not log or apply something (I/O, corrupt log, invalid transition)."
);
pyo3::create_exception!(
    rust_exec,
    NotReconciledError,
    GatewayError,
    "Orders from before a restart must be reconciled with the venue before new intents."
);

fn gateway_err(err: RustGatewayError) -> PyErr {
    match err {
        RustGatewayError::Contract(inner) => to_py_err(inner),
        RustGatewayError::NotReconciled { .. } => NotReconciledError::new_err(err.to_string()),
        other => GatewayError::new_err(other.to_string()),
    }
}

/// Parse a JSON document of any serde type, mapping errors to `ContractError` with the field.
fn parse<T: DeserializeOwned>(json: &str) -> PyResult<T> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        ContractError::new_err((format!("{field}: {}", e.inner()), field))
    })
}

fn to_py_err(err: RustContractError) -> PyErr {
    ContractError::new_err((err.to_string(), err.field().to_string()))
}

fn canonical<T>(json: &str) -> PyResult<String>
where
    T: serde::de::DeserializeOwned + serde::Serialize + Validate,
{
    let value: T = from_json(json).map_err(to_py_err)?;
    Ok(to_json(&value))
}

/// Validate an `OrderIntent` JSON document in Rust and return Rust's own serialization of it.
#[pyfunction]
fn canonical_order_intent(json: &str) -> PyResult<String> {
    canonical::<OrderIntent>(json)
}

/// Validate a `Fill` JSON document in Rust and return Rust's own serialization of it.
#[pyfunction]
fn canonical_fill(json: &str) -> PyResult<String> {
    canonical::<Fill>(json)
}

/// Validate an `OrderState` JSON document in Rust and return Rust's own serialization of it.
#[pyfunction]
fn canonical_order_state(json: &str) -> PyResult<String> {
    canonical::<OrderState>(json)
}

/// The deterministic client order id (see `client_id.rs`).
#[pyfunction]
fn client_order_id(strategy: &str, symbol: &str, signal_time_us: i64, seq: u32) -> String {
    crate::client_order_id(strategy, symbol, signal_time_us, seq)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventIn {
    client_order_id: String,
    ts: UtcTime,
    event: OrderEvent,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum EventResult {
    Ok(OrderState),
    Error(String),
}

/// The Rust gateway: durable order state, idempotent by client id (see `gateway.rs`).
/// JSON strings in and out; `trading.execution` wraps it in typed Python.
#[pyclass(name = "Gateway", module = "rust_exec")]
struct PyGateway {
    inner: RustGateway,
    recovery: String,
}

#[pymethods]
impl PyGateway {
    #[new]
    #[pyo3(signature = (wal_dir, fsync = "per_batch", snapshot_every = 10_000))]
    fn new(wal_dir: PathBuf, fsync: &str, snapshot_every: u64) -> PyResult<Self> {
        let policy: FsyncPolicy = fsync
            .parse()
            .map_err(|e: String| ContractError::new_err((e, "fsync".to_string())))?;
        let (inner, report) =
            RustGateway::open(&wal_dir, policy, snapshot_every).map_err(gateway_err)?;
        Ok(PyGateway {
            inner,
            recovery: to_json(&report),
        })
    }

    /// What the last open recovered: orders, replayed records, torn bytes, pending ids.
    #[getter]
    fn recovery_json(&self) -> String {
        self.recovery.clone()
    }

    fn set_rules(&mut self, rules_json: &str) -> PyResult<()> {
        let rules: InstrumentRules = parse(rules_json)?;
        self.inner.set_rules(rules).map_err(gateway_err)
    }

    /// Submit a JSON array of intents; returns a JSON array of outcomes (send/duplicate/rejected).
    #[pyo3(signature = (intents_json, now, reference_prices_json = None))]
    fn submit(
        &mut self,
        intents_json: &str,
        now: &str,
        reference_prices_json: Option<&str>,
    ) -> PyResult<String> {
        let intents: Vec<OrderIntent> = parse(intents_json)?;
        let now =
            UtcTime::parse(now).map_err(|e| ContractError::new_err((e, "now".to_string())))?;
        let prices: HashMap<String, Decimal> = match reference_prices_json {
            Some(json) => parse(json)?,
            None => HashMap::new(),
        };
        let outcomes = self
            .inner
            .submit(&intents, &prices, now)
            .map_err(gateway_err)?;
        Ok(to_json(&outcomes))
    }

    /// Apply a JSON array of `{client_order_id, ts, event}`; one result per event.
    fn apply_events(&mut self, events_json: &str) -> PyResult<String> {
        let events: Vec<EventIn> = parse(events_json)?;
        let batch: Vec<_> = events
            .into_iter()
            .map(|e| (e.client_order_id, e.ts, e.event))
            .collect();
        let results: Vec<EventResult> = self
            .inner
            .apply_events(&batch)
            .map_err(gateway_err)?
            .into_iter()
            .map(|r| match r {
                Ok(state) => EventResult::Ok(state),
                Err(e) => EventResult::Error(e.to_string()),
            })
            .collect();
        Ok(to_json(&results))
    }

    fn reconcile(&mut self, client_order_id: &str, report_json: &str) -> PyResult<String> {
        let report: VenueReport = parse(report_json)?;
        let outcome = self
            .inner
            .reconcile(client_order_id, &report)
            .map_err(gateway_err)?;
        Ok(to_json(&outcome))
    }

    fn awaiting_reconciliation(&self) -> Vec<String> {
        self.inner.awaiting_reconciliation()
    }

    fn state(&self, client_order_id: &str) -> Option<String> {
        self.inner.state(client_order_id).map(|s| to_json(&s))
    }

    fn open_orders(&self) -> String {
        to_json(&self.inner.open_orders())
    }

    /// Fills of one order, as a JSON array of `Fill`.
    fn fills(&self, client_order_id: &str) -> Option<String> {
        self.inner.order(client_order_id).map(|o| to_json(&o.fills))
    }

    /// Net signed quantity per symbol, from fills.
    fn positions(&self) -> String {
        to_json(&self.inner.positions())
    }

    fn checkpoint(&mut self) -> PyResult<()> {
        self.inner.checkpoint().map_err(gateway_err)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// Backoff with full jitter over a seeded generator (see `retry.rs`).
#[pyclass(name = "Backoff", module = "rust_exec")]
struct PyBackoff {
    policy: RetryPolicy,
    jitter: Jitter,
}

#[pymethods]
impl PyBackoff {
    #[new]
    #[pyo3(signature = (base_delay_ms = 100, max_delay_ms = 10_000, max_attempts = 8, seed = 0))]
    fn new(base_delay_ms: u64, max_delay_ms: u64, max_attempts: u32, seed: u64) -> Self {
        PyBackoff {
            policy: RetryPolicy {
                base_delay_ms,
                max_delay_ms,
                max_attempts,
            },
            jitter: Jitter::new(seed),
        }
    }

    /// Delay in ms before the next attempt, or None to give up. `failure_json` is a
    /// `{"kind": "timeout" | "network" | "server_error" | "rate_limited" | "rejected", ...}`.
    fn next_delay_ms(&mut self, failure_json: &str, attempt: u32) -> PyResult<Option<u64>> {
        let failure: VenueFailure = parse(failure_json)?;
        Ok(
            match self.policy.decide(&failure, attempt, &mut self.jitter) {
                RetryDecision::Retry { delay_ms } => Some(delay_ms),
                RetryDecision::GiveUp => None,
            },
        )
    }
}

/// Per-venue circuit breaker (closed -> open -> half-open); time in ms passed in.
#[pyclass(name = "CircuitBreaker", module = "rust_exec")]
struct PyBreaker {
    inner: RustBreaker,
}

#[pymethods]
impl PyBreaker {
    #[new]
    #[pyo3(signature = (failure_threshold = 5, open_ms = 10_000))]
    fn new(failure_threshold: u32, open_ms: u64) -> Self {
        PyBreaker {
            inner: RustBreaker::new(failure_threshold, open_ms),
        }
    }

    fn allow(&mut self, now_ms: u64) -> bool {
        self.inner.allow(now_ms)
    }

    fn on_success(&mut self) {
        self.inner.on_success();
    }

    fn on_failure(&mut self, failure_json: &str, now_ms: u64) -> PyResult<()> {
        let failure: VenueFailure = parse(failure_json)?;
        self.inner.on_failure(&failure, now_ms);
        Ok(())
    }

    #[getter]
    fn state_json(&self) -> String {
        to_json(&self.inner.state())
    }
}

#[pymodule]
fn _rust_exec(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ContractError", m.py().get_type::<ContractError>())?;
    m.add("GatewayError", m.py().get_type::<GatewayError>())?;
    m.add(
        "NotReconciledError",
        m.py().get_type::<NotReconciledError>(),
    )?;
    m.add_class::<PyGateway>()?;
    m.add_class::<PyBackoff>()?;
    m.add_class::<PyBreaker>()?;
    m.add_function(wrap_pyfunction!(canonical_order_intent, m)?)?;
    m.add_function(wrap_pyfunction!(canonical_fill, m)?)?;
    m.add_function(wrap_pyfunction!(canonical_order_state, m)?)?;
    m.add_function(wrap_pyfunction!(client_order_id, m)?)?;
    crate::python_kernels::register(m)?;
    Ok(())
}
