"""Reasoning written inline in a completion string: `<think>...</think>` tags and gpt-oss harmony channels."""

from __future__ import annotations

from dataclasses import dataclass, field

import regex

from cotlens.record import Parsed

OPEN_THINK = "<think>"
CLOSE_THINK = "</think>"

# A harmony message: optional `<|start|>ROLE`, `<|channel|>NAME` plus header (recipient, constrain), `<|message|>`,
# then the body up to its terminator. A body may be unterminated: generation stopped, or the stop token
# (`<|return|>`, `<|call|>`) was stripped by the server.
HARMONY_MESSAGE = regex.compile(
    r"""
    (?:<\|start\|>[^<]*)?                   # <|start|>assistant (often supplied by the prompt instead)
    <\|channel\|>(?P<channel>[^\s<]*)       # analysis | final | commentary
    (?P<header>[^<]*(?:<\|constrain\|>[^<]*)?)  # ' to=functions.x', '<|constrain|>json'
    <\|message\|>
    (?P<body>.*?)
    (?P<end><\|end\|>|<\|return\|>|<\|call\|>|(?=<\|start\|>)|(?=<\|channel\|>)|\Z)
    """,
    regex.VERBOSE | regex.DOTALL,
)


@dataclass(slots=True)
class InlineSplit:
    reasoning: list[str] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)
    truncated: bool = False
    repairs: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    def into(self, parsed: Parsed) -> None:
        parsed.raw.extend(self.reasoning)
        parsed.answer.extend(self.answer)
        parsed.truncated |= self.truncated
        parsed.repairs.extend(self.repairs)
        parsed.tags.update(self.tags)


def is_harmony(text: str) -> bool:
    return "<|channel|>" in text and "<|message|>" in text


def has_think_tags(text: str) -> bool:
    return OPEN_THINK in text or CLOSE_THINK in text


def split_inline(text: str) -> InlineSplit:
    """Split a completion string into reasoning and answer, whichever inline convention it uses."""
    if is_harmony(text):
        return split_harmony(text)
    return split_think(text)


def split_think(text: str) -> InlineSplit:
    """`<think>R</think>A`. A leading `R</think>A` means the chat template supplied the opening tag (a repair);
    a `<think>` never closed means generation stopped inside the reasoning (truncated)."""
    out = InlineSplit()
    if not has_think_tags(text):
        out.answer.append(text)
        return out
    pos = 0
    first_close = text.find(CLOSE_THINK)
    first_open = text.find(OPEN_THINK)
    if first_close != -1 and (first_open == -1 or first_close < first_open):
        out.reasoning.append(text[:first_close])
        out.repairs.append("missing-open-think")
        pos = first_close + len(CLOSE_THINK)
    while True:
        start = text.find(OPEN_THINK, pos)
        if start == -1:
            out.answer.append(text[pos:])
            return out
        out.answer.append(text[pos:start])
        body = start + len(OPEN_THINK)
        end = text.find(CLOSE_THINK, body)
        if end == -1:
            out.reasoning.append(text[body:])
            out.truncated = True
            return out
        out.reasoning.append(text[body:end])
        pos = end + len(CLOSE_THINK)


def split_harmony(text: str) -> InlineSplit:
    """gpt-oss harmony: channel `analysis` is reasoning, `final` is the answer; `commentary` (tool calls and
    preambles) is neither and is counted in the `commentary_messages` tag. An unterminated analysis message at
    the end means generation stopped inside the reasoning."""
    out = InlineSplit()
    commentary = 0
    last_channel, last_terminated = "", True
    for m in HARMONY_MESSAGE.finditer(text):
        channel, body = m["channel"], m["body"]
        if channel == "analysis":
            out.reasoning.append(body)
        elif channel == "final":
            out.answer.append(body)
        else:
            commentary += 1
        last_channel, last_terminated = channel, m["end"] != ""
    if last_channel == "analysis" and not last_terminated:
        out.truncated = True
    if commentary:
        out.tags["commentary_messages"] = str(commentary)
    return out
