"""Inline reasoning conventions, literal cases."""

from __future__ import annotations

import pytest

from cotlens.formats._inline import split_harmony, split_inline, split_think
from cotlens.record import Parsed


def finish(split) -> tuple:  # type: ignore[no-untyped-def]
    parsed = Parsed(model="m")
    split.into(parsed)
    t = parsed.finish()
    return t.reasoning, t.answer, t.truncated, t.repairs, t.reasoning_kind


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("<think>\nR\n</think>\n\nA", ("R", "A", False, [], "raw")),
        ("R</think>A", ("R", "A", False, ["missing-open-think"], "raw")),
        ("<think>\nR cut off mid", ("R cut off mid", None, True, [], "raw")),
        ("just an answer", (None, "just an answer", False, [], "none")),
        ("<think>\n\n</think>\n\nA", (None, "A", False, [], "none")),
        ("<think>one</think>mid<think>two</think>end", ("one\n\ntwo", "mid\n\nend", False, [], "raw")),
        ("pre</think>A<think>more", ("pre\n\nmore", "A", True, ["missing-open-think"], "raw")),
    ],
)
def test_think_tags(text: str, want: tuple) -> None:
    assert finish(split_think(text)) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (
            "<|start|>assistant<|channel|>analysis<|message|>R<|end|><|start|>assistant<|channel|>final<|message|>A<|return|>",
            ("R", "A", False, [], "raw"),
        ),
        (
            "<|channel|>analysis<|message|>R<|end|><|start|>assistant<|channel|>final<|message|>A",
            ("R", "A", False, [], "raw"),
        ),
        ("<|channel|>analysis<|message|>R still going", ("R still going", None, True, [], "raw")),
        (
            "<|channel|>analysis<|message|>R1<|end|><|start|>assistant<|channel|>analysis<|message|>R2<|end|>"
            "<|start|>assistant<|channel|>final<|message|>A",
            ("R1\n\nR2", "A", False, [], "raw"),
        ),
    ],
)
def test_harmony(text: str, want: tuple) -> None:
    assert finish(split_harmony(text)) == want


def test_harmony_commentary_is_neither_reasoning_nor_answer() -> None:
    text = (
        "<|channel|>analysis<|message|>Need weather.<|end|>"
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"city":"Paris"}<|call|>'
        "<|start|>assistant<|channel|>final<|message|>Sunny."
    )
    split = split_harmony(text)
    assert (split.reasoning, split.answer) == (["Need weather."], ["Sunny."])
    assert split.tags == {"commentary_messages": "1"}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (
            "<|begin_of_thought|>\nR\n<|end_of_thought|>\n\n<|begin_of_solution|>\nA\n<|end_of_solution|>",
            ("R", "A", False, [], "raw"),
        ),
        (
            "R<|end_of_thought|><|begin_of_solution|>A<|end_of_solution|>",
            ("R", "A", False, ["missing-open-thought"], "raw"),
        ),
        ("<|begin_of_thought|>cut", ("cut", None, True, [], "raw")),
        ("<thinking>R</thinking>A", ("R", "A", False, [], "raw")),
        ("R</thinking>A", ("R", "A", False, ["missing-open-thinking"], "raw")),
        ("<reasoning>R</reasoning>\nA", ("R", "A", False, [], "raw")),
        ("◁think▷R◁/think▷A", ("R", "A", False, [], "raw")),
        ("R◁/think▷A", ("R", "A", False, ["missing-open-kimi-think"], "raw")),
        # The family whose marker comes first: a <think> block that quotes <thinking> stays one block.
        ("<think>about <thinking> tags</think>A", ("about <thinking> tags", "A", False, [], "raw")),
        ("plain <b>html</b>", (None, "plain <b>html</b>", False, [], "none")),
    ],
)
def test_tag_families(text: str, want: tuple) -> None:
    assert finish(split_inline(text)) == want
