"""Provider clients whose API keys come from the secrets provider, reread on every call, so a
key rotated in Vault (or the secrets file) is used by the next call without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from trading.config import ModelConfig, RouterSettings, SecuritySettings
from trading.llm.clients import ChatClient, Completion, FailureKind, ProviderError, build_client
from trading.llm.prompt import Prompt
from trading.security.secrets import (
    SecretError,
    SecretsProvider,
    llm_key_name,
    open_secrets,
    optional,
)

ClientFactory = Callable[[ModelConfig, str, float], ChatClient]


class KeyedClient:
    """A ``ChatClient`` that reads ``llm/<model>`` before each call and rebuilds the SDK client
    when the key changed; a missing or unreadable key is a ``ProviderError`` (REJECTED)."""

    def __init__(
        self,
        config: ModelConfig,
        secrets: SecretsProvider,
        timeout_s: float,
        build: ClientFactory = build_client,
    ) -> None:
        self.config = config
        self._secrets = secrets
        self._timeout_s = timeout_s
        self._build = build
        self._key: str | None = None
        self._client: ChatClient | None = None

    async def _current(self) -> ChatClient:
        name = llm_key_name(self.config.name)
        try:
            key = await asyncio.to_thread(optional, self._secrets, name, refresh=True)
        except SecretError as exc:
            raise ProviderError(self.config.name, FailureKind.REJECTED, str(exc)) from None
        if key is None:
            message = f"no key {name!r} in the secrets provider"
            raise ProviderError(self.config.name, FailureKind.REJECTED, message)
        if self._client is None or key != self._key:
            if self._client is not None:
                await self._client.close()
            self._client, self._key = self._build(self.config, key, self._timeout_s), key
        return self._client

    async def complete(self, prompt: Prompt, *, max_tokens: int, timeout_s: float) -> Completion:
        client = await self._current()
        return await client.complete(prompt, max_tokens=max_tokens, timeout_s=timeout_s)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


def keyed_clients(
    models: tuple[ModelConfig, ...], secrets: SecretsProvider, timeout_s: float
) -> dict[str, ChatClient]:
    """A client for every model whose key the provider holds now (the others are skipped)."""
    return {
        model.name: KeyedClient(model, secrets, timeout_s)
        for model in models
        if optional(secrets, llm_key_name(model.name)) is not None
    }


def pool_clients(
    settings: RouterSettings, security: SecuritySettings | None
) -> dict[str, ChatClient] | None:
    """The router's clients when ``security`` names a secrets provider other than the
    environment (keys reread on every call); None: the router reads ``credential_env``."""
    if security is None or security.secrets_provider == "env":  # pragma: allowlist secret
        return None
    return keyed_clients(
        settings.models, open_secrets(security), settings.attempt_timeout_ms / 1000
    )
