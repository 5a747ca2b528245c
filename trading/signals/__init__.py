"""Signals: multi-timeframe analysis of one symbol, and (later) confluence scoring."""
