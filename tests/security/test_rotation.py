"""Secrets rotated in a real Vault-API server (OpenBao ``bao server -dev``) mid-session, without
a restart: the venue secret on the next request (a -1022 answer rereads it exactly once), an LLM
key on the next call, the journal's HMAC key at the journal's next open."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import hvac
import pytest

from actors.journal import _journal_key
from tests.security.conftest import Bao
from trading.config import ModelConfig, Provider, RouterSettings, SecuritySettings
from trading.execution.binance import INVALID_SIGNATURE, BinanceVenue
from trading.execution.paper import PaperExchange
from trading.execution.paper.server import PaperServer
from trading.execution.retry import VenueError
from trading.llm.clients import ChatClient, Completion, ProviderError
from trading.llm.keyed import KeyedClient, keyed_clients, pool_clients
from trading.llm.prompt import Prompt
from trading.security.secrets import (
    JOURNAL_KEY,
    VENUE_API_KEY,
    VENUE_API_SECRET,
    SecretValue,
    VaultSecrets,
    open_secrets,
    venue_credentials,
)

API_KEY = "k" * 64
PREFIX = "raytrader-rotation"  # apart from the other tests' secrets on the shared server
S1, S2, S3 = "venue-secret-one-5be1", "venue-secret-two-93c0", "venue-secret-three-0a7f"


@pytest.fixture
def vault(bao: Bao) -> Iterator[hvac.Client]:
    client = hvac.Client(url=bao.url, token=bao.root_token)
    yield client
    client.adapter.close()


def _write(vault: hvac.Client, name: str, value: str) -> None:
    vault.secrets.kv.v2.create_or_update_secret(path=f"{PREFIX}/{name}", secret={"value": value})


class CountingVault(VaultSecrets):
    """The real Vault provider, counting reads of each name from the server."""

    def __init__(self, bao: Bao) -> None:
        super().__init__(bao.url, bao.root_token, prefix=PREFIX)
        self.reads: dict[str, int] = {}

    def _fetch(self, name: str) -> SecretValue:
        self.reads[name] = self.reads.get(name, 0) + 1
        return super()._fetch(name)


async def _balances_after_rotation(
    bao: Bao, vault: hvac.Client, exchange_secret: str, rotated_to: str
) -> tuple[CountingVault, dict[str, Decimal] | VenueError]:
    """The venue reads S1; then Vault holds ``rotated_to`` and the exchange ``exchange_secret``;
    one signed request."""
    _write(vault, VENUE_API_KEY, API_KEY)
    _write(vault, VENUE_API_SECRET, S1)
    provider = CountingVault(bao)
    venue = BinanceVenue("http://127.0.0.1:1", credentials=venue_credentials(provider))
    _write(vault, VENUE_API_SECRET, rotated_to)
    server = PaperServer(
        PaperExchange({}), bar_interval_ms=0, api_key=API_KEY, api_secret=exchange_secret
    )
    await server.start()
    venue.base_url = server.url
    try:
        return provider, await venue.balances()
    except VenueError as error:
        return provider, error
    finally:
        await venue.close()
        await server.stop()


def test_a_rotated_venue_secret_is_refetched_once_after_a_1022_and_the_request_retried(
    bao: Bao, vault: hvac.Client
) -> None:
    provider, answer = asyncio.run(_balances_after_rotation(bao, vault, S2, S2))
    assert isinstance(answer, dict), answer
    assert provider.reads == {VENUE_API_KEY: 2, VENUE_API_SECRET: 2}, "one read, one refetch"
    assert S1 in provider.handed_out()
    assert S2 in provider.handed_out()


def test_a_secret_still_wrong_after_the_refetch_fails_without_a_loop(
    bao: Bao, vault: hvac.Client
) -> None:
    provider, answer = asyncio.run(_balances_after_rotation(bao, vault, S2, S3))
    assert isinstance(answer, VenueError)
    assert answer.code == INVALID_SIGNATURE
    assert provider.reads == {VENUE_API_KEY: 2, VENUE_API_SECRET: 2}
    assert S3 not in str(answer)
    assert S2 not in str(answer)


class RecordingClient:
    """Stands in for the hosted LLM's SDK client: remembers the key it was built with."""

    built: ClassVar[list[str]] = []

    def __init__(self, config: ModelConfig, api_key: str, timeout_s: float) -> None:
        self.api_key = api_key
        RecordingClient.built.append(api_key)
        self.closed = False

    async def complete(self, prompt: Prompt, *, max_tokens: int, timeout_s: float) -> Completion:
        return Completion(text=f"answered with {self.api_key[-4:]}", tokens_in=1, tokens_out=1)

    async def close(self) -> None:
        self.closed = True


def _recording(config: ModelConfig, api_key: str, timeout_s: float) -> ChatClient:
    return RecordingClient(config, api_key, timeout_s)


MODEL = ModelConfig(
    name="claude",
    provider=Provider.ANTHROPIC,
    model="claude-x",
    credential_env="ANTHROPIC_API_KEY",
    usd_per_mtok_in=3.0,
    usd_per_mtok_out=15.0,
)


def test_a_rotated_llm_key_is_used_by_the_next_call(bao: Bao, vault: hvac.Client) -> None:
    old, new = "sk-old-" + secrets.token_hex(8), "sk-new-" + secrets.token_hex(8)
    _write(vault, "llm/claude", old)
    provider = VaultSecrets(bao.url, bao.root_token, prefix=PREFIX)
    RecordingClient.built = []
    client = KeyedClient(MODEL, provider, 5.0, build=_recording)
    prompt = Prompt.__new__(Prompt)

    async def calls() -> list[str]:
        first = await client.complete(prompt, max_tokens=10, timeout_s=1)
        again = await client.complete(prompt, max_tokens=10, timeout_s=1)
        _write(vault, "llm/claude", new)
        rotated = await client.complete(prompt, max_tokens=10, timeout_s=1)
        await client.close()
        return [first.text, again.text, rotated.text]

    answers = asyncio.run(calls())
    assert answers == [f"answered with {old[-4:]}"] * 2 + [f"answered with {new[-4:]}"]
    assert RecordingClient.built == [old, new], "the SDK client is rebuilt only on a new key"


def test_an_llm_key_missing_from_the_provider_skips_the_model_and_fails_a_call(
    bao: Bao, vault: hvac.Client
) -> None:
    provider = VaultSecrets(bao.url, bao.root_token, prefix="raytrader-empty")
    assert keyed_clients((MODEL,), provider, 5.0) == {}
    with pytest.raises(ProviderError, match="no key 'llm/claude'"):
        asyncio.run(
            KeyedClient(MODEL, provider, 5.0, _recording).complete(
                Prompt.__new__(Prompt), max_tokens=1, timeout_s=1
            )
        )


def test_the_journal_key_comes_from_vault_and_a_rotation_counts_at_the_next_open(
    bao: Bao, vault: hvac.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", bao.root_token)
    security = SecuritySettings(secrets_provider="vault", vault_url=bao.url, vault_prefix=PREFIX)
    _write(vault, JOURNAL_KEY, "journal-key-one")
    assert _journal_key(security) == b"journal-key-one"
    _write(vault, JOURNAL_KEY, "journal-key-two")
    assert _journal_key(security) == b"journal-key-two"
    assert isinstance(open_secrets(security), VaultSecrets)


def test_the_vault_provider_needs_its_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    security = SecuritySettings(secrets_provider="vault", vault_url="http://127.0.0.1:1")
    with pytest.raises(Exception, match=r"\$VAULT_TOKEN holds no token"):
        open_secrets(security)


def test_the_router_pool_reads_llm_keys_from_the_configured_provider(
    bao: Bao, vault: hvac.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", bao.root_token)
    router = RouterSettings(models=(MODEL,))
    name = router.models[0].name
    prefix = f"{PREFIX}-pool"
    vault.secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/llm/{name}", secret={"value": "sk-pool-" + secrets.token_hex(8)}
    )
    security = SecuritySettings(secrets_provider="vault", vault_url=bao.url, vault_prefix=prefix)
    clients = pool_clients(router, security)
    assert clients is not None
    assert list(clients) == [name], "only the model whose key the provider holds"
    assert isinstance(clients[name], KeyedClient)
    assert pool_clients(router, SecuritySettings()) is None, "env: the router reads credential_env"
