"""One live session for every API test module: starting the actors, stepping and serving the
API costs about a minute on two cores, so tests/serve shares one (package scope) and each test
sets up the state it needs itself. A test that breaks the session (``kills_actor``) runs after
every other test of the package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.live_api import LiveApi, live_api

PACKAGE = Path(__file__).parent


@pytest.fixture(scope="package")
def live(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    with live_api(tmp_path_factory.mktemp("serve")) as api:
        yield api


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the package's ``kills_actor`` tests right after its last other test (after any
    shuffle), so the shared session is whole for the rest and is set up only once."""
    breaking = [
        item
        for item in items
        if item.path.is_relative_to(PACKAGE) and item.get_closest_marker("kills_actor")
    ]
    keep = [item for item in items if item not in breaking]
    ours = [i for i, item in enumerate(keep) if item.path.is_relative_to(PACKAGE)]
    at = ours[-1] + 1 if ours else len(keep)
    items[:] = keep[:at] + breaking + keep[at:]
