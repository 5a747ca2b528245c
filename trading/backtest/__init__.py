"""Backtests: the live per-step pipeline (analysis, desk, risk) replayed over history in-process,
with fill models, metrics, reports, a look-ahead check and a vectorized SMA sweep. No Ray here."""
