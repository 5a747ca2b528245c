"""Execution: the typed facade over the Rust gateway, the engine that drives it against a venue,
venue adapters (Binance REST/WS, ccxt) and the built-in paper exchange."""
