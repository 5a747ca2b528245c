"""Signals: multi-timeframe analysis of one symbol, confluence scoring, regimes, calibration and
explained ``Signal``s. No Ray here."""
