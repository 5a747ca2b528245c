"""A local LLM provider on 127.0.0.1 speaking the real wire formats, for the real SDKs.

One aiohttp server hosts any number of *tenants*, each under its own path prefix and with its
own wire format: Anthropic Messages (``POST /<tenant>/v1/messages``), OpenAI Chat Completions
(``POST /<tenant>/v1/chat/completions``) and Mistral chat (the same path, Mistral's error and
response shape). Each tenant answers from a script of ``Behaviour``s (then its default):
latency (fixed or drawn from a seeded distribution), HTTP status with the provider's error
body, malformed envelopes, garbage / truncated / off-schema answer text, or a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from aiohttp import web

Wire = Literal["anthropic", "openai", "mistral"]
Body = Literal["ok", "envelope_garbage", "text_garbage", "truncated", "off_schema", "prose"]

DEFAULT_ANSWER: dict[str, Any] = {
    "direction": "LONG",
    "confidence": 0.7,
    "reasons": ["ema12 above ema26", "rsi rising"],
    "invalidation_level": None,
}

_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class Behaviour:
    """How a tenant answers one request."""

    latency_s: float | Callable[[random.Random], float] = 0.0
    status: int = 200
    body: Body = "ok"
    answer: dict[str, Any] | None = None


@dataclass
class Tenant:
    wire: Wire
    default: Behaviour = field(default_factory=Behaviour)
    script: deque[Behaviour] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    latencies_s: list[float] = field(default_factory=list)

    def next(self) -> Behaviour:
        return self.script.popleft() if self.script else self.default


class FakeProvider:
    """``async with FakeProvider() as fake``: a server on an ephemeral loopback port."""

    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def add(self, name: str, wire: Wire, default: Behaviour | None = None) -> Tenant:
        tenant = Tenant(wire=wire, default=default or Behaviour())
        self.tenants[name] = tenant
        return tenant

    def base_url(self, name: str) -> str:
        """The base URL the tenant's SDK is configured with (OpenAI's includes ``/v1``)."""
        root = f"http://127.0.0.1:{self.port}/{name}"
        return f"{root}/v1" if self.tenants[name].wire == "openai" else root

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/{tenant}/v1/messages", self._handle)
        app.router.add_post("/{tenant}/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        tenant = self.tenants[request.match_info["tenant"]]
        expected = "messages" if tenant.wire == "anthropic" else "chat/completions"
        if not request.path.endswith(expected):
            return web.json_response({"error": {"message": "wrong endpoint"}}, status=404)
        payload = await request.json()
        tenant.requests.append(payload)
        tenant.headers.append(dict(request.headers))
        behaviour = tenant.next()
        latency = behaviour.latency_s
        delay = latency(tenant.rng) if callable(latency) else latency
        started = time.perf_counter()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=delay)
        tenant.latencies_s.append(time.perf_counter() - started)
        if behaviour.status != 200:
            return _error(tenant.wire, behaviour.status)
        if behaviour.body == "envelope_garbage":
            return web.Response(text="<html>upstream hiccup", content_type="application/json")
        text = _answer_text(behaviour)
        return web.json_response(_envelope(tenant.wire, payload, text))


def _answer_text(behaviour: Behaviour) -> str:
    answer = behaviour.answer if behaviour.answer is not None else DEFAULT_ANSWER
    text = json.dumps(answer)
    if behaviour.body == "text_garbage":
        return "I think the market might go up, hard to say!"
    if behaviour.body == "truncated":
        return text[: len(text) * 2 // 3]
    if behaviour.body == "off_schema":
        return json.dumps({"direction": "MAYBE", "confidence": 3.5, "reasons": []})
    if behaviour.body == "prose":
        return f"Sure! Here is my view:\n```json\n{text}\n```\nHope it helps."
    return text


def _tokens(payload: dict[str, Any]) -> int:
    text = json.dumps(payload.get("messages", [])) + str(payload.get("system", ""))
    return max(1, len(text) // 4)


def _envelope(wire: Wire, payload: dict[str, Any], text: str) -> dict[str, Any]:
    tokens_in, tokens_out = _tokens(payload), max(1, len(text) // 4)
    if wire == "anthropic":
        return {
            "id": "msg_fake01",
            "type": "message",
            "role": "assistant",
            "model": payload["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if wire == "mistral":
        message["tool_calls"] = None
    return {
        "id": "cmpl-fake01",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": payload["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
    }


def _error(wire: Wire, status: int) -> web.Response:
    kind = _ANTHROPIC_ERRORS.get(status, "api_error")
    message = f"fake {kind} ({status})"
    if wire == "anthropic":
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    elif wire == "openai":
        body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    else:
        body = {"object": "error", "message": message, "type": kind, "param": None, "code": None}
    headers = {"retry-after": "0"} if status == 429 else {}
    return web.json_response(body, status=status, headers=headers)
