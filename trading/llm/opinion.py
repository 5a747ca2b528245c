"""What an analyst answers: the ``Answer`` a model must emit as JSON, and the routed ``LLMOpinion``.

An opinion only feeds a signal's confluence; it carries no size and no order. Model text is
parsed strictly, then repaired once (JSON extraction, closing a truncated object, known
aliases); whatever still fails is rejected with ``AnswerError`` and never passed on.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trading.contracts import Confidence, Direction, Reason

MAX_REASONS = 6
MAX_TRUNCATION_CUTS = 8


class AnswerError(ValueError):
    """Model output that is not a valid ``Answer`` even after the one repair pass."""

    def __init__(self, problem: str, text: str) -> None:
        super().__init__(f"{problem}; answer began {text[:80]!r}")
        self.problem = problem


class Answer(BaseModel):
    """The JSON object the analyst prompt asks for; the schema models are held to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    direction: Direction
    confidence: Confidence
    reasons: Annotated[tuple[Reason, ...], Field(min_length=1, max_length=MAX_REASONS)]
    invalidation_level: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None


class CacheOutcome(StrEnum):
    MISS = "miss"
    EXACT = "exact"
    BUCKET = "bucket"


class Degradation(StrEnum):
    """Why the offline analyst answered instead of a hosted model."""

    NO_MODEL = "no_model_configured"
    BUDGET = "budget_exhausted"
    FAILED = "all_models_failed"


class LLMOpinion(Answer):
    """A routed second opinion: the ``Answer`` plus where it came from.

    ``source`` is the model name or ``"offline"``; ``offline`` and ``degraded`` say plainly when
    the rule-based analyst stood in and why. Signals read ``direction``, ``confidence`` and
    ``source``; risk never reads ``invalidation_level`` as an order price.
    """

    source: Annotated[str, Field(min_length=1, max_length=64)]
    offline: bool = False
    degraded: Degradation | None = None
    note: Annotated[str, Field(max_length=300)] = ""
    cache: CacheOutcome = CacheOutcome.MISS
    prompt_version: str
    prompt_hash: str


ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "direction": {"enum": [d.value for d in Direction]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reasons": {
            "type": "array",
            "items": {"type": "string", "maxLength": 200},
            "minItems": 1,
            "maxItems": MAX_REASONS,
        },
        "invalidation_level": {"type": ["number", "null"]},
    },
    "required": ["direction", "confidence", "reasons", "invalidation_level"],
}

_DIRECTION_ALIASES = {
    "long": Direction.LONG,
    "bullish": Direction.LONG,
    "buy": Direction.LONG,
    "up": Direction.LONG,
    "short": Direction.SHORT,
    "bearish": Direction.SHORT,
    "sell": Direction.SHORT,
    "down": Direction.SHORT,
    "neutral": Direction.NEUTRAL,
    "flat": Direction.NEUTRAL,
    "hold": Direction.NEUTRAL,
    "none": Direction.NEUTRAL,
}
_KEY_ALIASES = {
    "invalidation": "invalidation_level",
    "invalidation_price": "invalidation_level",
    "stop": "invalidation_level",
    "stop_level": "invalidation_level",
    "reason": "reasons",
    "rationale": "reasons",
    "bias": "direction",
}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)(?:```|$)", re.DOTALL | re.IGNORECASE)


def parse_answer(text: str) -> tuple[Answer, bool]:
    """The validated answer in ``text`` and whether the repair pass was needed."""
    try:
        return Answer.model_validate_json(text), False
    except ValidationError:
        pass
    data = _extract_object(text)
    if data is None:
        raise AnswerError("no JSON object in the answer", text)
    try:
        return Answer.model_validate(_normalise(data)), True
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "<root>"
        raise AnswerError(f"off-schema answer: {where}: {first['msg']}", text) from exc


def _extract_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text``: fenced, embedded in prose, or truncated mid-way."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start = body.find("{")
    if start < 0:
        return None
    body = body[start:]
    end = body.rfind("}")
    candidates = [body[: end + 1]] if end >= 0 else []
    candidates.extend(_close_truncated(body))
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _close_truncated(body: str) -> list[str]:
    """Candidates for a cut-off answer: closed as is, then cut back to each earlier comma."""
    stack: list[str] = []
    commas: list[tuple[int, tuple[str, ...]]] = []
    in_string = escaped = False
    for index, char in enumerate(body):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack:
            stack.pop()
        elif char == ",":
            commas.append((index, tuple(stack)))
    tail = body + ('"' if in_string else "")
    candidates = [tail.rstrip().rstrip(",:") + "".join(reversed(stack))]
    for index, open_at_comma in reversed(commas[-MAX_TRUNCATION_CUTS:]):
        candidates.append(body[:index] + "".join(reversed(open_at_comma)))
    return candidates


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Known aliases mapped onto the schema; unknown keys dropped."""
    out: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = _KEY_ALIASES.get(str(raw_key).strip().lower(), str(raw_key).strip().lower())
        if key in Answer.model_fields and key not in out:
            out[key] = value
    direction = out.get("direction")
    if isinstance(direction, str):
        out["direction"] = _DIRECTION_ALIASES.get(direction.strip().lower(), direction.upper())
    confidence = out.get("confidence")
    if isinstance(confidence, str) and confidence.strip().endswith("%"):
        percent = _to_float(confidence.strip().rstrip("%"))
        confidence = percent / 100 if isinstance(percent, float) else confidence
    elif isinstance(confidence, int) and 1 < confidence <= 100:
        confidence = confidence / 100  # a whole-number percentage
    elif isinstance(confidence, str):
        confidence = _to_float(confidence)
    if confidence is not None:
        out["confidence"] = confidence
    reasons = out.get("reasons")
    if isinstance(reasons, str):
        reasons = [reasons]
    if isinstance(reasons, list):
        kept = [str(r).strip()[:200] for r in reasons if str(r).strip()]
        out["reasons"] = tuple(kept[:MAX_REASONS])
    level = out.get("invalidation_level")
    if isinstance(level, str):
        out["invalidation_level"] = _to_float(level.replace(",", ""))
    return out


def _to_float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def check_invalidation(answer: Answer, close: float) -> None:
    """Reject an invalidation level on the wrong side of the close for the stated direction."""
    level = answer.invalidation_level
    if level is None:
        return
    wrong = (answer.direction is Direction.LONG and level >= close) or (
        answer.direction is Direction.SHORT and level <= close
    )
    if wrong:
        raise AnswerError(
            f"invalidation_level {level} is on the wrong side of close {close} "
            f"for {answer.direction}",
            answer.model_dump_json(),
        )
