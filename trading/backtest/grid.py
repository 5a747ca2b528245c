"""Run plans: a parameter grid (YAML) x walk-forward windows, each run with a stable id."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from trading.backtest.data import Window


class GridError(ValueError):
    """A grid file or walk-forward spec is malformed; names the key and value."""


@dataclass(frozen=True)
class RunSpec:
    """One backtest to run: parameters, symbols, the window traded and (walk-forward) trained."""

    params: Mapping[str, Any]
    symbols: tuple[str, ...]
    window: Window
    train: Window | None = None
    config: str = ""  # digest of the effective configuration (``config_digest``)

    @property
    def run_id(self) -> str:
        """Stable id from everything that defines the run, the effective configuration
        included: resuming skips ids already done, and another config never reuses them."""
        text = json.dumps(
            {
                "params": dict(sorted(self.params.items())),
                "symbols": self.symbols,
                "window": self.window.label(),
                "train": self.train.label() if self.train else None,
                "config": self.config,
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def config_digest(*parts: Any) -> str:
    """A digest of what configures a run beyond its grid parameters (the settings with their
    timeframes, the base timeframe, the balance, the fill and signal sources): JSON of each
    part (pydantic models by their JSON, dataclasses by their fields)."""
    texts = [_json(part) for part in parts]
    return hashlib.sha256("\x1f".join(texts).encode()).hexdigest()[:16]


def _json(part: Any) -> str:
    dump = getattr(part, "model_dump_json", None)
    if callable(dump):
        text: str = dump()
        return text
    return json.dumps(part, sort_keys=True, default=str)


def read_grid(path: Path) -> list[dict[str, Any]]:
    """``{dotted.key: [values...]}`` -> the cartesian product as parameter dicts."""
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise GridError(f"{path}: top level must be a mapping of parameter -> list of values")
    return expand_grid(raw)


def expand_grid(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    keys = sorted(raw)
    values = []
    for key in keys:
        options = raw[key]
        if not isinstance(options, list) or not options:
            raise GridError(f"grid key {key!r}: expected a non-empty list, got {options!r}")
        values.append(options)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def parse_walk_forward(text: str) -> tuple[timedelta, timedelta]:
    """``TRAIN:TEST`` in days, e.g. ``60:30``."""
    train, sep, test = text.partition(":")
    try:
        days = (int(train), int(test))
    except ValueError:
        days = (0, 0)
    if not sep or min(days) <= 0:
        raise GridError(f"--walk-forward expects TRAIN:TEST days like 60:30, got {text!r}")
    return timedelta(days=days[0]), timedelta(days=days[1])


def walk_forward(window: Window, train: timedelta, test: timedelta) -> list[tuple[Window, Window]]:
    """Rolling (train, test) windows: test windows tile ``window`` after the first train span."""
    out = []
    start = window.start
    while start + train + test <= window.end:
        out.append((Window(start, start + train), Window(start + train, start + train + test)))
        start += test
    return out


def plan_runs(
    grid: Sequence[Mapping[str, Any]],
    symbols: Sequence[str],
    window: Window,
    walk: tuple[timedelta, timedelta] | None = None,
    per_symbol: bool = False,
    config: str = "",
) -> list[RunSpec]:
    """Grid x symbol sets x windows: the whole window, or per walk-forward fold a run on its
    train window and one on its test window (labelled with the train window it follows);
    ``config``: the digest of the effective configuration, part of every run id."""
    windows: list[tuple[Window | None, Window]] = [(None, window)]
    if walk is not None:
        folds = walk_forward(window, *walk)
        windows = [run for train, test in folds for run in ((None, train), (train, test))]
    sets = [(s,) for s in symbols] if per_symbol else [tuple(symbols)]
    return [
        RunSpec(dict(params), chosen, test, train, config)
        for params in grid or [{}]
        for chosen in sets
        for train, test in windows
    ]
