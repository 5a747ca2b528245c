"""State actors' placement: hard affinity by default, soft when the data dir is shared."""

from __future__ import annotations

from actors.session import SessionOptions, state_placement
from trading.config import load_settings

NODE = "ab" * 28  # a node id's shape; no cluster needed to build the strategy


def test_state_actors_are_pinned_hard_unless_the_data_dir_is_shared() -> None:
    settings = load_settings()
    pinned = state_placement(SessionOptions(settings=settings, state_node_id=NODE))
    shared = state_placement(
        SessionOptions(settings=settings, state_node_id=NODE, shared_state=True)
    )
    assert (pinned.node_id, pinned.soft) == (NODE, False)
    assert (shared.node_id, shared.soft) == (NODE, True)
