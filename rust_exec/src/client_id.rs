//! Deterministic client order ids: the same intent always maps to the same id, on both sides of
//! the FFI boundary (`trading.contracts.client_order_id` computes the identical string).

use sha2::{Digest, Sha256};

/// Version tag of the derivation; bump it only together with the Python side.
pub const CLIENT_ID_SCHEME: &str = "v1";
/// Every id starts with this prefix; 3 + 32 hex chars = 35, inside Binance's 36-char limit.
pub const CLIENT_ID_PREFIX: &str = "rt-";

/// `rt-` + the first 128 bits (hex) of SHA-256 over `v1|strategy|symbol|signal_time_us|seq`.
pub fn client_order_id(strategy: &str, symbol: &str, signal_time_us: i64, seq: u32) -> String {
    let preimage = format!("{CLIENT_ID_SCHEME}|{strategy}|{symbol}|{signal_time_us}|{seq}");
    let digest = Sha256::digest(preimage.as_bytes());
    let mut id = String::with_capacity(CLIENT_ID_PREFIX.len() + 32);
    id.push_str(CLIENT_ID_PREFIX);
    for byte in &digest[..16] {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sha256_reference_vector() {
        // printf 'v1|sma-cross|BTC/USDT|1704067200000000|0' | sha256sum
        let expected = "rt-3070f91c5af71ec0a3580cb0ba8e92bd";
        let id = client_order_id("sma-cross", "BTC/USDT", 1_704_067_200_000_000, 0);
        assert_eq!(id, expected);
    }

    #[test]
    fn differs_by_sequence_and_fits_binance_limit() {
        let a = client_order_id("s", "ETH/USDT", 0, 1);
        let b = client_order_id("s", "ETH/USDT", 0, 2);
        assert_ne!(a, b);
        assert_eq!(a.len(), 35);
    }
}
