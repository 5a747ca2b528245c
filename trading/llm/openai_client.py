"""OpenAI Chat Completions over the ``openai`` SDK (its retries off), also for Gemini, vLLM,
Ollama and Together through their OpenAI-compatible base URLs; imported only when such a model
is built."""

from __future__ import annotations

from typing import Any

import openai
from openai.types.chat import ChatCompletionMessageParam

from trading.config import ModelConfig, Provider
from trading.llm.clients import Completion, FailureKind, ProviderError, status_kind
from trading.llm.prompt import Prompt


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
                self.name, status_kind(exc.status_code), str(exc), exc.status_code
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
