"""Provider clients over the official SDKs, with the SDKs' own retries off.

Anthropic Messages (``anthropic``), OpenAI Chat Completions (``openai``; also Gemini, vLLM,
Ollama and Together through their OpenAI-compatible base URLs) and Mistral chat
(``mistralai``). Every failure becomes one ``ProviderError`` with a ``FailureKind``; the router
is the only retry loop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from trading.config import ModelConfig, Provider
from trading.llm.prompt import Prompt


class FailureKind(StrEnum):
    RATE_LIMITED = "rate_limited"
    SERVER = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    REJECTED = "rejected"  # 4xx other than 429: bad request, auth, not found
    MALFORMED = "malformed"  # unparseable envelope or an answer that fails the schema


class ProviderError(Exception):
    """One failed provider call, classified for cooldowns and the evaluation store."""

    def __init__(
        self, model: str, kind: FailureKind, message: str, status: int | None = None
    ) -> None:
        where = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{model}: {kind}{where}: {message[:200]}")
        self.model = model
        self.kind = kind
        self.status = status


@dataclass(frozen=True, slots=True)
class Completion:
    """A provider's raw answer text and the usage it reported."""

    text: str
    tokens_in: int
    tokens_out: int
    truncated: bool = False


class ChatClient(Protocol):
    """Anything that can answer a prompt: an SDK-backed provider or a local stand-in."""

    async def complete(self, prompt: Prompt, *, max_tokens: int, timeout_s: float) -> Completion:
        """One call, no retries; raises ``ProviderError``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def status_kind(status: int) -> FailureKind:
    if status == 429:
        return FailureKind.RATE_LIMITED
    if status == 408:
        return FailureKind.TIMEOUT
    if status >= 500:
        return FailureKind.SERVER
    return FailureKind.REJECTED


def build_client(config: ModelConfig, api_key: str, timeout_s: float) -> ChatClient:
    """The SDK-backed client for ``config.provider``; its SDK is imported here, so a process
    loads only the SDKs of the providers it calls (they take seconds to import)."""
    if config.provider is Provider.ANTHROPIC:
        from trading.llm.anthropic_client import AnthropicClient

        return AnthropicClient(config, api_key, timeout_s)
    if config.provider is Provider.MISTRAL:
        from trading.llm.mistral_client import MistralClient

        return MistralClient(config, api_key, timeout_s)
    from trading.llm.openai_client import OpenAIClient

    return OpenAIClient(config, api_key, timeout_s)


def clients_from_env(
    models: tuple[ModelConfig, ...],
    timeout_s: float,
    environ: Mapping[str, str] | None = None,
) -> dict[str, ChatClient]:
    """A client for every model whose ``credential_env`` holds a key; the others are skipped."""
    environ = os.environ if environ is None else environ
    return {
        model.name: build_client(model, environ[model.credential_env], timeout_s)
        for model in models
        if environ.get(model.credential_env)
    }
