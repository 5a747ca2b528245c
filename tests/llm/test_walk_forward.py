"""Walk-forward over the shared real data: the cache hit rate target and free, identical re-runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.llm.walk_forward import (
    WalkForwardResult,
    requests_for,
    standin_settings,
    walk_forward,
)
from trading.llm.prompt import AnalysisRequest

SINCE = datetime(2025, 8, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def decisions(shared_data: Path) -> list[tuple[AnalysisRequest, float]]:
    folder = shared_data / "binance_spot_2024_2026"
    out: list[tuple[AnalysisRequest, float]] = []
    for symbol in ("BTC/USDT", "ETH/USDT", "SOL/USDT"):
        out += requests_for(folder, symbol, SINCE)
    return out


def test_walk_forward_cache_hit_rate_is_at_least_forty_percent(
    decisions: list[tuple[AnalysisRequest, float]],
) -> None:
    async def run() -> tuple[WalkForwardResult, int]:
        result, router = await walk_forward(decisions, standin_settings())
        scored = sum(1 for c in router.evaluation.calls() if c.cache == "miss")
        await router.close()
        return result, scored

    result, scored = asyncio.run(run())
    print(f"\nwalk-forward 1h BTC/ETH/SOL since {SINCE:%Y-%m-%d}: {result}")
    print(f"cache hit rate {result.hit_rate:.1%}")
    assert result.requests > 10_000
    assert result.model_calls == result.requests - result.exact_hits - result.bucket_hits
    assert result.hit_rate >= 0.40
    assert scored == result.model_calls


def test_rerun_of_a_walk_forward_on_its_cache_file_makes_no_model_call(
    decisions: list[tuple[AnalysisRequest, float]], tmp_path: Path
) -> None:
    window = decisions[:1500]
    settings = standin_settings(cache={"path": str(tmp_path / "cache.sqlite")})

    async def run() -> tuple[WalkForwardResult, list[tuple[str, str, str | None, float | None]]]:
        result, router = await walk_forward(window, settings)
        answers = [
            (c.request_hash, c.model, c.direction, c.confidence) for c in router.evaluation.calls()
        ]
        await router.close()
        return result, answers

    first, first_answers = asyncio.run(run())
    second, second_answers = asyncio.run(run())
    assert first.model_calls > 0
    assert second.model_calls == 0
    assert second.exact_hits == second.requests
    assert [a for a in second_answers] == [a for a in first_answers]
