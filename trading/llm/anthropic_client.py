"""Anthropic Messages over the ``anthropic`` SDK (its retries off); imported only when a model
of this provider is built, so processes that never call Anthropic never load its SDK."""

from __future__ import annotations

import anthropic

from trading.config import ModelConfig
from trading.llm.clients import Completion, FailureKind, ProviderError, status_kind
from trading.llm.prompt import Prompt


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
                self.name, status_kind(exc.status_code), str(exc), exc.status_code
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
