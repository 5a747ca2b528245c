"""The risk engine stays a list of small named checks with typed policy values: every check
and cap is short, each names the reason it denies with, and the policy's derived limits follow
its ``RiskLimits``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from trading.config import RiskLimits
from trading.contracts import DenialReason
from trading.risk.checks import CAPS, CHECKS, mark_book, project, reserve, size
from trading.risk.engine import _evaluate
from trading.risk.policy import RiskPolicy

MAX_CHECK_LINES = 25


def test_every_check_and_cap_is_a_short_function() -> None:
    functions: tuple[Callable[..., object], ...] = (
        *CHECKS,
        *CAPS,
        size,
        reserve,
        mark_book,
        project,
        _evaluate,
    )
    for function in functions:
        lines = len(inspect.getsource(function).splitlines())
        assert lines <= MAX_CHECK_LINES, (function.__name__, lines)


def test_every_check_names_the_reasons_it_decides_with() -> None:
    """Each check's and cap's docstring names a DenialReason, so the order reads as a table."""
    reasons = {reason.value for reason in DenialReason}
    for function in (*CHECKS, *CAPS):
        doc = inspect.getdoc(function) or ""
        assert any(reason in doc for reason in reasons), function.__name__


def test_policy_limits_in_decimal_form_follow_the_limits() -> None:
    policy = RiskPolicy(limits=RiskLimits(max_symbol_exposure_pct=7.5, max_leverage=10.0))
    assert policy.symbol_cap == Decimal("0.075")
    assert policy.max_leverage == Decimal("10.0")
    assert policy.daily_keep == 1 - Decimal("0.08")
    assert policy.stale_after == timedelta(seconds=120)
    changed = replace(policy, limits=RiskLimits(max_symbol_exposure_pct=5.0))
    assert changed.symbol_cap == Decimal("0.05")
    assert policy.symbol_cap == Decimal("0.075")
