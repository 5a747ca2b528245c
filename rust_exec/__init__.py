"""raytrader's Rust execution core, built by maturin from the crate in this folder."""

from rust_exec._rust_exec import (
    Backoff,
    CircuitBreaker,
    ContractError,
    Gateway,
    GatewayError,
    NotReconciledError,
    __version__,
    canonical_fill,
    canonical_order_intent,
    canonical_order_state,
    client_order_id,
)

__all__ = [
    "Backoff",
    "CircuitBreaker",
    "ContractError",
    "Gateway",
    "GatewayError",
    "NotReconciledError",
    "__version__",
    "canonical_fill",
    "canonical_order_intent",
    "canonical_order_state",
    "client_order_id",
]
