"""A session's execution actor signs its requests with the key and secret it reads from its own
environment, and the paper venue actor started with the same ones checks them, over real HTTP
on 127.0.0.1: orders fill with the right secret and are refused (-1022) with a wrong one."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import ray

from actors.execution import ExecutionActor
from actors.paper import PaperVenueActor
from tests.execution.test_signing import DOC_KEY, DOC_SECRET, intent
from trading.config import VenueSettings
from trading.contracts import OrderStatus, Timeframe
from trading.execution.gateway import RejectedOutcome, SendOutcome
from trading.market.replay import BUNDLED_DATA, data_file

pytestmark = pytest.mark.ray

SHORT_TMP = "/tmp/ray"  # noqa: S108 - Unix socket paths must stay short

VENUE = VenueSettings(
    api_key_env="SIGNED_TEST_KEY",  # pragma: allowlist secret
    api_secret_env="SIGNED_TEST_SECRET",  # noqa: S106  # pragma: allowlist secret
)


def _env(secret: str) -> dict[str, Any]:
    return {"env_vars": {"SIGNED_TEST_KEY": DOC_KEY, "SIGNED_TEST_SECRET": secret}}


def _paper() -> tuple[Any, str]:
    files = {"SOL/USDT": str(data_file(BUNDLED_DATA, "SOL/USDT", Timeframe.M5))}
    paper = PaperVenueActor.options(runtime_env=_env(DOC_SECRET)).remote(  # type: ignore[attr-defined]
        files, 10.0, 10.0, VENUE
    )
    url = ray.get(paper.start.remote())
    first_open_ms = 1_759_276_800_000  # 2025-10-01, the bundled data's first bar
    ray.get(paper.advance_to.remote(first_open_ms + 3_600_000))
    return paper, url


def test_signed_orders_fill_and_a_wrong_secret_is_refused(
    ray_session: object, tmp_path: Path
) -> None:
    paper, url = _paper()
    wal = Path(tempfile.mkdtemp(prefix="signed-wal-", dir=SHORT_TMP))  # fresh: no old WAL
    good = ExecutionActor.options(runtime_env=_env(DOC_SECRET)).remote(  # type: ignore[attr-defined]
        str(wal / "good"), url, ("SOL/USDT",), venue=VENUE
    )
    bad = ExecutionActor.options(runtime_env=_env("x" + DOC_SECRET[1:])).remote(  # type: ignore[attr-defined]
        str(wal / "bad"), url, ("SOL/USDT",), venue=VENUE
    )
    try:
        [sent] = ray.get(good.submit.remote([intent(1)], {"SOL/USDT": Decimal("200")}))
        assert isinstance(sent, SendOutcome)
        [update] = ray.get(good.updates.remote([sent.intent.client_order_id]))
        assert update.state.status is OrderStatus.FILLED
        assert sum(f.quantity for f in update.fills) == Decimal("1.000")
        [refused] = ray.get(bad.submit.remote([intent(2)], {"SOL/USDT": Decimal("200")}))
        state = ray.get(bad.updates.remote([intent(2).client_order_id]))
        rejected = isinstance(refused, RejectedOutcome) or (
            state and state[0].state.status is OrderStatus.REJECTED
        )
        assert rejected, (refused, state)
        reason = state[0].state.reject_reason if state else refused.reason
        assert "Signature" in str(reason)
        assert ray.get(paper.stats.remote())["accepted"] == 1
    finally:
        for actor in (good, bad, paper):
            ray.kill(actor)
