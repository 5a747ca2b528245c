//! raytrader's execution core.
//!
//! A plain Rust library first: the order contracts shared with Python (`contracts`) and the
//! deterministic client order id (`client_id`). The PyO3 bindings in `python` are a thin layer
//! compiled only with the `python` feature (maturin turns it on).

pub mod client_id;
pub mod contracts;
pub mod error;
pub mod gateway;
pub mod kernels;
pub mod order;
pub mod retry;
pub mod rules;
pub mod wal;

#[cfg(feature = "python")]
mod python;
#[cfg(feature = "python")]
mod python_kernels;

pub use client_id::client_order_id;
pub use contracts::{
    Fill, Liquidity, OrderIntent, OrderState, OrderStatus, OrderType, Side, TimeInForce, UtcTime,
};
pub use error::ContractError;
