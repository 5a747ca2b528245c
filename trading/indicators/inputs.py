"""Boundary checks for indicator inputs: 1-D float64 series, equal lengths, TA-Lib period ranges.

Every error is an ``IndicatorInputError`` (a ``ValueError``) that names the offending argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Series = NDArray[np.float64]

MAX_PERIOD = 100_000
"""TA-Lib's upper bound for every period parameter."""


class IndicatorInputError(ValueError):
    """Bad indicator input; the message starts with the argument's name."""


def as_series(name: str, values: Any) -> Series:
    """``values`` as a contiguous 1-D float64 array (no copy when it already is one)."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise IndicatorInputError(f"{name}: not convertible to float64 ({error})") from None
    if array.ndim != 1:
        raise IndicatorInputError(f"{name}: must be a 1-D array, got shape {array.shape}")
    return np.ascontiguousarray(array)


def as_series_set(**named: Any) -> list[Series]:
    """Several series of one bar sequence; all must have the first one's length."""
    arrays = [as_series(name, values) for name, values in named.items()]
    names = list(named)
    for name, array in zip(names[1:], arrays[1:], strict=True):
        if array.shape[0] != arrays[0].shape[0]:
            raise IndicatorInputError(
                f"{name}: length {array.shape[0]} differs from {names[0]} length "
                f"{arrays[0].shape[0]}"
            )
    return arrays


def check_period(name: str, value: Any, minimum: int) -> int:
    """An integer period in TA-Lib's accepted range ``[minimum, 100000]``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise IndicatorInputError(f"{name}: must be an integer, got {value!r}")
    if not minimum <= value <= MAX_PERIOD:
        raise IndicatorInputError(f"{name}: must be in [{minimum}, {MAX_PERIOD}], got {value}")
    return int(value)


def check_real(name: str, value: Any) -> float:
    """A finite float parameter (e.g. a band width in standard deviations)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise IndicatorInputError(f"{name}: must be a number, got {value!r}")
    if not np.isfinite(value):
        raise IndicatorInputError(f"{name}: must be finite, got {value!r}")
    return float(value)


def nan_series(length: int) -> Series:
    return np.full(length, np.nan)
