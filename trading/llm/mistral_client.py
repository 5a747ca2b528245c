"""Mistral chat over the ``mistralai`` SDK (its retries off), Mixtral included; imported only
when a Mistral model is built."""

from __future__ import annotations

from typing import Any

import httpx2
from mistralai.client import Mistral
from mistralai.client import errors as mistral_errors
from mistralai.client.models import SystemMessage, UserMessage
from mistralai.client.utils import BackoffStrategy, RetryConfig

from trading.config import ModelConfig
from trading.llm.clients import Completion, FailureKind, ProviderError, status_kind
from trading.llm.prompt import Prompt

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
                self.name, status_kind(exc.status_code), exc.body, exc.status_code
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
