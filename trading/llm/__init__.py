"""The multi-LLM router: a cached, budgeted, audited second opinion that never places an order."""

from trading.llm.clients import ChatClient, Completion, FailureKind, ProviderError
from trading.llm.opinion import Answer, AnswerError, CacheOutcome, Degradation, LLMOpinion
from trading.llm.prompt import PROMPT_VERSION, AnalysisRequest, Prompt, build_prompt
from trading.llm.router import LLMRouter, RouterCounters, UnknownRequestClassError

__all__ = [
    "PROMPT_VERSION",
    "AnalysisRequest",
    "Answer",
    "AnswerError",
    "CacheOutcome",
    "ChatClient",
    "Completion",
    "Degradation",
    "FailureKind",
    "LLMOpinion",
    "LLMRouter",
    "Prompt",
    "ProviderError",
    "RouterCounters",
    "UnknownRequestClassError",
    "build_prompt",
]
