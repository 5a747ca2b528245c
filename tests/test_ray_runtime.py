"""Ray workers see the same packages as the driver: contracts and the Rust core."""

from __future__ import annotations

import pytest
import ray

pytestmark = pytest.mark.ray


def test_ray_task_validates_contracts_with_python_and_rust(ray_session: object) -> None:
    @ray.remote(num_cpus=0.25)
    def client_ids(seqs: list[int]) -> list[tuple[str, str]]:
        from datetime import UTC, datetime

        import rust_exec
        from trading.contracts import client_order_id, epoch_us

        t = datetime(2025, 1, 1, tzinfo=UTC)
        return [
            (
                client_order_id("smoke", "BTC/USDT", t, seq),
                rust_exec.client_order_id("smoke", "BTC/USDT", epoch_us(t), seq),
            )
            for seq in seqs
        ]

    pairs = ray.get(client_ids.remote([0, 1, 2]))
    assert [py for py, _ in pairs] == [rs for _, rs in pairs]
    assert len({py for py, _ in pairs}) == 3
