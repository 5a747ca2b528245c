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
from typing import Any, Protocol

import anthropic
import httpx2
import openai
from mistralai.client import Mistral
from mistralai.client import errors as mistral_errors
from mistralai.client.models import SystemMessage, UserMessage
from mistralai.client.utils import BackoffStrategy, RetryConfig
from openai.types.chat import ChatCompletionMessageParam

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


def _status_kind(status: int) -> FailureKind:
    if status == 429:
        return FailureKind.RATE_LIMITED
    if status == 408:
        return FailureKind.TIMEOUT
    if status >= 500:
        return FailureKind.SERVER
    return FailureKind.REJECTED


class AnthropicClient:
    """Anthropic Messages API (``POST /v1/messages``)."""

    def __init__(self, config: ModelConfig, api_key: str, timeout_s: float) -> None:
        self.name = config.name
        self.model = config.model
        self._sdk = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=config.base_url, max_retries=0, timeout=timeout_s
        )

    async def complete(self, prompt: Prompt, *, max_tokens: int, timeout_s: float) -> Completion:
        try:
            message = await self._sdk.messages.create(
                model=self.model,
                max_tokens=max_tokens,
                system=prompt.system,
                messages=[{"role": "user", "content": prompt.user}],
                timeout=timeout_s,
            )
        except anthropic.APITimeoutError as exc:
            raise ProviderError(self.name, FailureKind.TIMEOUT, str(exc)) from exc
        except anthropic.APIConnectionError as exc:
            raise ProviderError(self.name, FailureKind.CONNECTION, str(exc)) from exc
        except anthropic.APIStatusError as exc:
            raise ProviderError(
                self.name, _status_kind(exc.status_code), str(exc), exc.status_code
            ) from exc
        except (anthropic.APIError, ValueError, TypeError, AttributeError) as exc:
            raise ProviderError(self.name, FailureKind.MALFORMED, repr(exc)) from exc
        try:
            text = "".join(block.text for block in message.content if block.type == "text")
            usage = message.usage
            return Completion(
                text=text,
                tokens_in=int(usage.input_tokens),
                tokens_out=int(usage.output_tokens),
                truncated=message.stop_reason == "max_tokens",
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise ProviderError(self.name, FailureKind.MALFORMED, repr(exc)) from exc

    async def close(self) -> None:
        await self._sdk.close()


class OpenAIClient:
    """OpenAI Chat Completions (``POST {base_url}/chat/completions``), also for compatibles."""

    def __init__(self, config: ModelConfig, api_key: str, timeout_s: float) -> None:
        self.name = config.name
        self.model = config.model
        self._native = config.provider is Provider.OPENAI
        base_url: Any = config.base_url if config.base_url else openai.NOT_GIVEN
        self._sdk = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s
        )

    async def complete(self, prompt: Prompt, *, max_tokens: int, timeout_s: float) -> Completion:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ]
        try:
            response = await self._sdk.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=0.0,
                response_format={"type": "json_object"},
                timeout=timeout_s,
                max_completion_tokens=max_tokens if self._native else openai.omit,
                max_tokens=openai.omit if self._native else max_tokens,
            )
        except openai.APITimeoutError as exc:
            raise ProviderError(self.name, FailureKind.TIMEOUT, str(exc)) from exc
        except openai.APIConnectionError as exc:
            raise ProviderError(self.name, FailureKind.CONNECTION, str(exc)) from exc
        except openai.APIStatusError as exc:
            raise ProviderError(
                self.name, _status_kind(exc.status_code), str(exc), exc.status_code
            ) from exc
        except (openai.OpenAIError, ValueError, TypeError, AttributeError) as exc:
            raise ProviderError(self.name, FailureKind.MALFORMED, repr(exc)) from exc
        try:
            choice = response.choices[0]
            usage = response.usage
            return Completion(
                text=choice.message.content or "",
                tokens_in=int(usage.prompt_tokens) if usage else 0,
                tokens_out=int(usage.completion_tokens) if usage else 0,
                truncated=choice.finish_reason == "length",
            )
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError(self.name, FailureKind.MALFORMED, repr(exc)) from exc

    async def close(self) -> None:
        await self._sdk.close()


_NO_RETRIES = RetryConfig("none", BackoffStrategy(1, 1, 1.0, 1), retry_connection_errors=False)


class MistralClient:
    """Mistral chat (``POST {server_url}/v1/chat/completions``), Mixtral included."""

    def __init__(self, config: ModelConfig, api_key: str, timeout_s: float) -> None:
        self.name = config.name
        self.model = config.model
        self._sdk = Mistral(
            api_key=api_key,
            server_url=config.base_url,
            retry_config=_NO_RETRIES,
            timeout_ms=int(timeout_s * 1000),
        )

    async def complete(self, prompt: Prompt, *, max_tokens: int, timeout_s: float) -> Completion:
        messages: list[SystemMessage | UserMessage] = [
            SystemMessage(content=prompt.system),
            UserMessage(content=prompt.user),
        ]
        try:
            response = await self._sdk.chat.complete_async(
                model=self.model,
                messages=messages,
                temperature=0.0,
                max_tokens=max_tokens,
                response_format={"type": "json_object"},
                retries=_NO_RETRIES,
                timeout_ms=int(timeout_s * 1000),
            )
        except httpx2.TimeoutException as exc:
            raise ProviderError(self.name, FailureKind.TIMEOUT, repr(exc)) from exc
        except httpx2.TransportError as exc:
            raise ProviderError(self.name, FailureKind.CONNECTION, repr(exc)) from exc
        except mistral_errors.ResponseValidationError as exc:
            raise ProviderError(self.name, FailureKind.MALFORMED, str(exc)) from exc
        except mistral_errors.MistralError as exc:
            raise ProviderError(
                self.name, _status_kind(exc.status_code), exc.body, exc.status_code
            ) from exc
        except (mistral_errors.NoResponseError, ValueError, TypeError, AttributeError) as exc:
            raise ProviderError(self.name, FailureKind.MALFORMED, repr(exc)) from exc
        try:
            choice = response.choices[0]
            content: Any = choice.message.content if choice.message else ""
            if isinstance(content, list):
                content = "".join(str(getattr(chunk, "text", "")) for chunk in content)
            usage = response.usage
            return Completion(
                text=str(content or ""),
                tokens_in=int(usage.prompt_tokens or 0),
                tokens_out=int(usage.completion_tokens or 0),
                truncated=choice.finish_reason == "length",
            )
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError(self.name, FailureKind.MALFORMED, repr(exc)) from exc

    async def close(self) -> None:
        await self._sdk.__aexit__(None, None, None)  # type: ignore[no-untyped-call]


def build_client(config: ModelConfig, api_key: str, timeout_s: float) -> ChatClient:
    """The SDK-backed client for ``config.provider``."""
    if config.provider is Provider.ANTHROPIC:
        return AnthropicClient(config, api_key, timeout_s)
    if config.provider is Provider.MISTRAL:
        return MistralClient(config, api_key, timeout_s)
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
