"""Learning from outcomes: per-pattern/regime/timeframe trade statistics, bandit pattern
weights, a bounded performance sizing multiplier, and the walk-forward adaptive-weights study."""
