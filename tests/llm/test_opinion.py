"""Model output: strict parse, one repair pass, precise rejection, never a bad answer through."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.contracts import Direction
from trading.llm.opinion import Answer, AnswerError, check_invalidation, parse_answer

GOOD = {
    "direction": "SHORT",
    "confidence": 0.55,
    "reasons": ["lower high"],
    "invalidation_level": 65200.5,
}


def test_exact_schema_parses_without_repair() -> None:
    answer, repaired = parse_answer(json.dumps(GOOD))
    assert (answer.direction, answer.confidence, repaired) == (Direction.SHORT, 0.55, False)


@pytest.mark.parametrize(
    "text",
    [
        "Here you go:\n```json\n" + json.dumps(GOOD) + "\n```",
        "My view: " + json.dumps(GOOD) + " -- good luck",
        json.dumps(GOOD)[:-25],  # cut inside the invalidation level
        json.dumps(
            {
                "Direction": "bearish",
                "confidence": "55%",
                "reason": "lower high",
                "stop": "65,200.5",
            }
        ),
    ],
)
def test_fenced_prose_truncated_and_aliased_answers_are_repaired_once(text: str) -> None:
    answer, repaired = parse_answer(text)
    assert repaired
    assert answer.direction is Direction.SHORT
    assert answer.confidence == 0.55


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("I think it goes up", "no JSON object"),
        ('{"direction": "MAYBE", "confidence": 0.5, "reasons": ["x"]}', "direction"),
        ('{"direction": "LONG", "confidence": 3.5, "reasons": ["x"]}', "confidence"),
        ('{"direction": "LONG", "confidence": 0.5, "reasons": []}', "reasons"),
        ('{"direction": "LONG", "confi', "confidence: Field required"),
    ],
)
def test_unrepairable_answers_are_rejected_naming_the_field(text: str, problem: str) -> None:
    with pytest.raises(AnswerError, match=problem):
        parse_answer(text)


def test_invalidation_on_the_wrong_side_is_rejected() -> None:
    long_answer = Answer(
        direction=Direction.LONG, confidence=0.5, reasons=("x",), invalidation_level=70000.0
    )
    with pytest.raises(AnswerError, match="wrong side of close 64500"):
        check_invalidation(long_answer, 64500.0)
    check_invalidation(long_answer.model_copy(update={"invalidation_level": 63000.0}), 64500.0)


@given(
    st.text(max_size=300)
    | st.builds(
        json.dumps,
        st.dictionaries(
            st.text(max_size=12), st.integers() | st.text(max_size=10) | st.floats(), max_size=5
        ),
    )
)
def test_arbitrary_text_either_parses_into_a_valid_answer_or_raises_answer_error(text: str) -> None:
    try:
        answer, _ = parse_answer(text)
    except AnswerError:
        return
    assert Answer.model_validate(answer.model_dump()) == answer
