//! Thin PyO3 layer over the plain Rust library: strings in, strings out, typed errors mapped to
//! `rust_exec.ContractError` (a `ValueError`) whose `args` are `(message, field)`.

use pyo3::prelude::*;

use crate::contracts::{from_json, to_json, Fill, OrderIntent, OrderState, Validate};
use crate::error::ContractError as RustContractError;

pyo3::create_exception!(
    rust_exec,
    ContractError,
    pyo3::exceptions::PyValueError,
    "A contract document was rejected by the Rust side; args are (message, field)."
);

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

#[pymodule]
fn _rust_exec(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ContractError", m.py().get_type::<ContractError>())?;
    m.add_function(wrap_pyfunction!(canonical_order_intent, m)?)?;
    m.add_function(wrap_pyfunction!(canonical_fill, m)?)?;
    m.add_function(wrap_pyfunction!(canonical_order_state, m)?)?;
    m.add_function(wrap_pyfunction!(client_order_id, m)?)?;
    Ok(())
}
