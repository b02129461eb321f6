"""Reasoning written inline in a completion string: gpt-oss harmony channels and the tag families of TAG_FAMILIES
(`<think>`, Sky-T1's `<|begin_of_thought|>`, `<thinking>`, `<reasoning>`, Kimi's `◁think▷`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import regex

from cotlens.record import Parsed


@dataclass(frozen=True, slots=True)
class TagFamily:
    """One convention of marking reasoning inline with an opening and a closing marker. `answer_markers` are
    wrappers of the answer that are dropped when the string has a reasoning block (Sky-T1's solution markers,
    `<answer>` tags); `repair` names a missing opening marker."""

    name: str
    open: str
    close: str
    answer_markers: tuple[str, ...] = ()

    @property
    def repair(self) -> str:
        return f"missing-open-{self.name}"


# The inline reasoning conventions other than harmony, in the README's table. A string uses one of them: the
# family whose marker comes first in it.
# R1-Zero and GRPO recipes wrap the answer in <answer> tags after the reasoning block.
ANSWER_TAGS = ("<answer>", "</answer>")
THINK = TagFamily("think", "<think>", "</think>", ANSWER_TAGS)
TAG_FAMILIES: tuple[TagFamily, ...] = (
    THINK,
    # Sky-T1, Bespoke-Stratos, OpenThoughts: the answer sits between solution markers.
    TagFamily(
        "thought",
        "<|begin_of_thought|>",
        "<|end_of_thought|>",
        ("<|begin_of_solution|>", "<|end_of_solution|>"),
    ),
    TagFamily("thinking", "<thinking>", "</thinking>", ANSWER_TAGS),
    TagFamily("reasoning", "<reasoning>", "</reasoning>", ANSWER_TAGS),
    TagFamily("kimi-think", "\u25c1think\u25b7", "\u25c1/think\u25b7"),  # ◁think▷ ... ◁/think▷ (Kimi)
)
_FAMILY_OF = {marker: f for f in TAG_FAMILIES for marker in (f.open, f.close)}
# Every family's markers in one pattern: one pass over a long text finds the first marker of any family.
_ANY_MARKER = regex.compile("|".join(regex.escape(m) for m in sorted(_FAMILY_OF, key=len, reverse=True)))
OPEN_THINK = THINK.open
CLOSE_THINK = THINK.close

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


# Every marker, harmony's included, starts with one of these: a text with neither (most reasoning) is plain, known
# from two one-character searches instead of a search for every marker.
MARKER_STARTS = ("<", "\u25c1")


def _may_have_markers(text: str) -> bool:
    return MARKER_STARTS[0] in text or MARKER_STARTS[1] in text


def is_harmony(text: str) -> bool:
    return MARKER_STARTS[0] in text and "<|channel|>" in text and "<|message|>" in text


def has_think_tags(text: str) -> bool:
    return OPEN_THINK in text or CLOSE_THINK in text


def tag_family(text: str) -> TagFamily | None:
    """The inline family a string uses: the one whose marker comes first; None for plain text."""
    if not _may_have_markers(text):
        return None
    m = _ANY_MARKER.search(text)
    return None if m is None else _FAMILY_OF[m[0]]


def has_inline_reasoning(text: str) -> bool:
    """Whether a string carries reasoning markers of any family (harmony included)."""
    return is_harmony(text) or tag_family(text) is not None


def split_inline(text: str) -> InlineSplit:
    """Split a completion string into reasoning and answer, whichever inline convention it uses."""
    if is_harmony(text):
        return split_harmony(text)
    family = tag_family(text)
    if family is None:
        return InlineSplit(answer=[text])
    return split_tagged(text, family)


def split_think(text: str) -> InlineSplit:
    """`<think>R</think>A` (see split_tagged)."""
    return split_tagged(text, THINK)


def split_tagged(text: str, family: TagFamily) -> InlineSplit:
    """`OPEN R CLOSE A`. A leading `R CLOSE A` means the chat template supplied the opening marker (a repair);
    an opening marker never closed means generation stopped inside the reasoning (truncated)."""
    out = InlineSplit()
    opener, closer = family.open, family.close
    if opener not in text and closer not in text:
        out.answer.append(text)
        return out
    pos = 0
    first_close = text.find(closer)
    first_open = text.find(opener)
    if first_close != -1 and (first_open == -1 or first_close < first_open):
        out.reasoning.append(text[:first_close])
        out.repairs.append(family.repair)
        pos = first_close + len(closer)
    while True:
        start = text.find(opener, pos)
        if start == -1:
            out.answer.append(_unwrap(text[pos:], family))
            return out
        out.answer.append(_unwrap(text[pos:start], family))
        body = start + len(opener)
        end = text.find(closer, body)
        if end == -1:
            out.reasoning.append(text[body:])
            out.truncated = True
            return out
        out.reasoning.append(text[body:end])
        pos = end + len(closer)


def _unwrap(answer: str, family: TagFamily) -> str:
    for marker in family.answer_markers:
        answer = answer.replace(marker, "")
    return answer


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
