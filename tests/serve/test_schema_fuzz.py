"""schemathesis against the live API's own ``/openapi.json``, every operation called with
generated requests and a valid token: never a 5xx, and every 4xx other than the guard's
(401, 403, 404, 405, 413, 429) names the field or key it is about."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from tests.serve.live_api import LiveApi, live_api
from trading.config import SecuritySettings
from trading.security.tokens import Role

pytestmark = [pytest.mark.ray, pytest.mark.slow]

GUARD_STATUSES = {401, 403, 404, 405, 413, 429}
NAMING_KEYS = ("loc", "field", "key", "keys", "problems")
EXAMPLES = 20


@pytest.fixture(scope="module")
def fuzzed(ray_session: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    directory = tmp_path_factory.mktemp("fuzz")
    unlimited = SecuritySettings(
        reload_dir=str(directory / "configs"),
        rate_limit_per_token="100000/minute",  # noqa: S106 - a rate, not a password
        rate_limit_per_address="100000/minute",
    )
    with live_api(directory, steps=1, security=unlimited) as session:
        yield session


def _names_what_is_wrong(detail: Any) -> bool:
    if isinstance(detail, list):
        return bool(detail) and all(_names_what_is_wrong(item) for item in detail)
    return isinstance(detail, dict) and any(key in detail for key in NAMING_KEYS)


def _check(case: Any, api: LiveApi) -> None:
    response = case.call(base_url=api.url, headers=api.headers(Role.ADMIN), timeout=30)
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, (where, response.text[:500])
    if 400 <= response.status_code < 500 and response.status_code not in GUARD_STATUSES:
        detail = json.loads(response.text).get("detail")
        assert _names_what_is_wrong(detail), (where, response.status_code, response.text[:500])


def test_no_5xx_and_every_4xx_names_the_field(fuzzed: LiveApi) -> None:
    """Each operation of the served schema, ``EXAMPLES`` generated requests (hypothesis)."""
    schema = schemathesis.openapi.from_url(
        f"{fuzzed.url}/openapi.json", headers=fuzzed.headers(Role.ADMIN)
    )
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "every operation of the schema is well-formed"
    # an event stream answers for up to an hour: its parameters are tested in test_ui.py
    operations = [o for o in operations if o.path != "/v1/stream"]
    assert len(operations) >= 8, [f"{o.method} {o.path}" for o in operations]
    for operation in operations:
        run = settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )(given(case=operation.as_strategy())(lambda case: _check(case, fuzzed)))
        run()
