"""Renaming a record's fields among the documented synonyms, and nesting them in a message object, gives the same
transcript (text, model, tokens)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cotlens.formats import detect_format
from cotlens.formats.base import Context
from cotlens.formats.generic import is_setting, synonyms

ROLES = synonyms().roles
# Names that a specific shape claims on their own, or that are containers as well as answers: left out so the
# record stays generic whatever is drawn (the specific shapes have their own tests).
SPECIFIC = {"reasoning_content", "response", "output", "completion", "generation", "generated_text", "text"}
text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s.strip() and "<" not in s and "◁" not in s and not is_setting(s)
)


def names(role: str) -> st.SearchStrategy[str]:
    return st.sampled_from([n for n in ROLES[role] if n not in SPECIFIC])


@settings(max_examples=150, deadline=None)
@given(
    model_key=names("model"),
    reasoning_key=names("reasoning"),
    answer_key=names("answer"),
    tokens_key=names("reasoning_tokens"),
    model=text,
    reasoning=text,
    answer=text,
    tokens=st.integers(min_value=0, max_value=10**9),
    nest=st.sampled_from(["", "message", "result", "data"]),
    tokens_in_usage=st.booleans(),
    model_as_object=st.booleans(),
)
def test_synonyms_and_nesting_give_the_same_transcript(
    model_key: str,
    reasoning_key: str,
    answer_key: str,
    tokens_key: str,
    model: str,
    reasoning: str,
    answer: str,
    tokens: int,
    nest: str,
    tokens_in_usage: bool,
    model_as_object: bool,
) -> None:
    texts: dict[str, Any] = {reasoning_key: reasoning, answer_key: answer}
    record: dict[str, Any] = {model_key: {"name": model} if model_as_object else model}
    record.update({nest: texts} if nest else texts)
    record.update({"usage": {tokens_key: tokens}} if tokens_in_usage else {tokens_key: tokens})
    fmt = detect_format(record)
    assert fmt.name == "generic"
    [parsed] = fmt.parse(record, Context())
    t = parsed.finish()
    assert (t.model, t.reasoning, t.answer, t.reasoning_tokens_reported) == (model, reasoning, answer, tokens)
    assert parsed.warnings == []
