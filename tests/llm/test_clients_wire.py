"""The real SDKs against the fake provider over HTTP: answers, usage, errors, no SDK retries."""

from __future__ import annotations

import asyncio

import pytest

from tests.llm.fake_provider import Behaviour, FakeProvider, Tenant
from tests.llm.scenario import fake_models, request
from trading.llm.clients import ChatClient, Completion, FailureKind, ProviderError, build_client
from trading.llm.opinion import parse_answer
from trading.llm.prompt import build_prompt

PROVIDERS = ("claude", "gpt", "mistral", "gemini")


async def _call(
    name: str, behaviour: Behaviour | None, timeout_s: float = 1.0
) -> tuple[Completion | ProviderError, Tenant]:
    async with FakeProvider() as fake:
        (config,) = fake_models(fake, (name,))
        tenant = fake.tenants[name]
        if behaviour is not None:
            tenant.script.append(behaviour)
        client: ChatClient = build_client(config, f"key-of-{name}", timeout_s)
        try:
            outcome: Completion | ProviderError = await client.complete(
                build_prompt(request()), max_tokens=200, timeout_s=timeout_s
            )
        except ProviderError as exc:
            outcome = exc
        finally:
            await client.close()
        return outcome, tenant


@pytest.mark.parametrize("name", PROVIDERS)
def test_sdk_answer_and_usage_come_back_over_the_wire(name: str) -> None:
    completion, tenant = asyncio.run(_call(name, None))
    assert isinstance(completion, Completion)
    answer, repaired = parse_answer(completion.text)
    assert (answer.direction.value, answer.confidence, repaired) == ("LONG", 0.7, False)
    assert completion.tokens_in > 100
    assert completion.tokens_out > 10
    assert len(tenant.requests) == 1
    sent = tenant.requests[0]
    assert sent["model"] == f"{name}-model"
    assert (
        sent["max_tokens" if name in ("claude", "mistral", "gemini") else "max_completion_tokens"]
        == 200
    )
    headers = {k.lower(): v for k, v in tenant.headers[0].items()}
    auth = headers.get("x-api-key") or headers.get("authorization", "")
    assert f"key-of-{name}" in auth


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, FailureKind.RATE_LIMITED), (500, FailureKind.SERVER), (400, FailureKind.REJECTED)],
)
def test_error_status_is_classified_and_never_retried_by_the_sdk(
    name: str, status: int, kind: FailureKind
) -> None:
    error, tenant = asyncio.run(_call(name, Behaviour(status=status)))
    assert isinstance(error, ProviderError)
    assert (error.kind, error.status, error.model) == (kind, status, name)
    assert len(tenant.requests) == 1  # max_retries=0 / retry strategy "none"


@pytest.mark.parametrize("name", PROVIDERS)
def test_slow_provider_times_out_at_the_client_timeout(name: str) -> None:
    error, tenant = asyncio.run(_call(name, Behaviour(latency_s=5.0), timeout_s=0.2))
    assert isinstance(error, ProviderError)
    assert error.kind is FailureKind.TIMEOUT
    assert len(tenant.requests) == 1


@pytest.mark.parametrize("name", PROVIDERS)
def test_non_json_envelope_is_malformed(name: str) -> None:
    error, _ = asyncio.run(_call(name, Behaviour(body="envelope_garbage")))
    assert isinstance(error, ProviderError)
    assert error.kind is FailureKind.MALFORMED
