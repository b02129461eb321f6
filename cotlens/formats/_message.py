"""Reading chat messages, shared by every shape that carries OpenAI-, Anthropic- or Inspect-style messages.

Where providers put the reasoning of one assistant message:
- `reasoning_content` (DeepSeek, vLLM), `reasoning` as a string (OpenRouter, newer vLLM), `thinking` (Ollama);
- `reasoning_details[]` (OpenRouter): `reasoning.text`, `reasoning.summary`, `reasoning.encrypted` items;
- content blocks: `thinking` / `redacted_thinking` (Anthropic), `reasoning` items with `redacted` (Inspect AI);
- inline in the content string: `<think>...</think>` or harmony channels.
"""

from __future__ import annotations

from typing import Any

from cotlens.errors import RecordError
from cotlens.formats._fields import JSONObject, dicts, opt_list, opt_str
from cotlens.formats._inline import split_inline
from cotlens.record import Parsed

ANSWER_BLOCKS = {"text", "output_text"}
IGNORED_BLOCKS = {
    "tool_use",
    "tool_result",
    "server_tool_use",
    "web_search_tool_result",
    "image",
    "document",
    "function_call",
    "tool_call",
    "refusal",
    "input_text",
    "audio",
    "data",
}


def read_assistant_message(msg: JSONObject, parsed: Parsed, where: str = "message.") -> None:
    """Add one assistant message's reasoning and answer to `parsed`."""
    explicit = False
    for key in ("reasoning_content", "reasoning", "thinking"):
        value = msg.get(key)
        if key == "reasoning" and isinstance(value, dict):
            continue  # a reasoning *config* ({"effort": ...}) echoed back, not text
        text = opt_str(msg, key, where)
        if text and text.strip():
            parsed.raw.append(text)
            explicit = True
            break
    details = opt_list(msg, "reasoning_details", where)
    if details:
        read_reasoning_details(dicts(details, f"{where}reasoning_details"), parsed, text_too=not explicit)
    read_content(msg.get("content"), parsed, f"{where}content")


def read_reasoning_details(details: list[JSONObject], parsed: Parsed, text_too: bool) -> None:
    """OpenRouter's `reasoning_details`; its `reasoning.text` items repeat `message.reasoning` when both exist."""
    for item in details:
        kind = item.get("type")
        if kind == "reasoning.text":
            if text_too:
                parsed.raw.append(opt_str(item, "text", "reasoning_details[].") or "")
        elif kind == "reasoning.summary":
            parsed.summary.append(opt_str(item, "summary", "reasoning_details[].") or "")
        elif kind == "reasoning.encrypted":
            parsed.encrypted_blocks += 1


def read_content(content: Any, parsed: Parsed, where: str) -> None:
    """Message content: a string (maybe with inline reasoning), a list of typed blocks, or null."""
    if content is None:
        return
    if isinstance(content, str):
        split_inline(content).into(parsed)
        return
    if not isinstance(content, list):
        raise RecordError(f"{where} is {type(content).__name__}, expected a string or a list of blocks")
    for i, block in enumerate(content):
        if isinstance(block, str):
            split_inline(block).into(parsed)
            continue
        if not isinstance(block, dict):
            raise RecordError(f"{where}[{i}] is {type(block).__name__}, expected an object")
        read_block(block, parsed, f"{where}[{i}].")


def read_block(block: JSONObject, parsed: Parsed, where: str) -> None:
    kind = block.get("type")
    if kind in ANSWER_BLOCKS:
        text = opt_str(block, "text", where) or ""
        split_inline(text).into(parsed)
    elif kind == "thinking":
        parsed.raw.append(opt_str(block, "thinking", where) or "")
    elif kind == "redacted_thinking":
        parsed.redacted_blocks += 1
    elif kind == "reasoning":  # Inspect AI ContentReasoning
        if block.get("redacted"):
            parsed.redacted_blocks += 1
            return
        text = opt_str(block, "reasoning", where) or ""
        if text.strip():
            parsed.raw.append(text)
        else:
            parsed.summary.append(opt_str(block, "summary", where) or "")
    elif kind not in IGNORED_BLOCKS and kind is not None and "text" in block:
        # An unknown block type that carries text: count it as answer rather than lose it.
        parsed.answer.append(opt_str(block, "text", where) or "")


def message_text(msg: JSONObject, where: str) -> str | None:
    """The visible text of a non-assistant message (a prompt): a string, or its text blocks joined."""
    content = msg.get("content")
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise RecordError(f"{where}content is {type(content).__name__}, expected a string or a list")
    texts = [b if isinstance(b, str) else b.get("text") for b in content if isinstance(b, str | dict)]
    joined = "\n\n".join(t.strip() for t in texts if isinstance(t, str) and t.strip())
    return joined or None


def first_user_text(
    messages: list[JSONObject],
    role_key: str = "role",
    content_key: str = "content",
    user_roles: frozenset[str] = frozenset({"user"}),
) -> str | None:
    for i, msg in enumerate(messages):
        if msg.get(role_key) in user_roles:
            if content_key != "content":
                return opt_str(msg, content_key, f"messages[{i}].")
            return message_text(msg, f"messages[{i}].")
    return None


def read_conversation(messages: list[JSONObject], parsed: Parsed, where: str = "messages") -> None:
    """A conversation in OpenAI message form: the reasoning of every assistant turn, in order; the answer of the
    last assistant turn (earlier turns' text is conversation, not the transcript's answer); the first user turn
    as prompt."""
    last_answer: list[str] = []
    for i, msg in enumerate(messages):
        if msg.get("role") != "assistant":
            continue
        turn = Parsed()
        read_assistant_message(msg, turn, f"{where}[{i}].")
        parsed.raw.extend(turn.raw)
        parsed.summary.extend(turn.summary)
        parsed.redacted_blocks += turn.redacted_blocks
        parsed.encrypted_blocks += turn.encrypted_blocks
        parsed.repairs.extend(turn.repairs)
        parsed.tags.update(turn.tags)
        # Only the last turn can be cut off by a length limit; an unclosed tag mid-conversation is the same sign.
        parsed.truncated |= turn.truncated
        last_answer = turn.answer
    parsed.answer.extend(last_answer)
    if parsed.prompt is None:
        parsed.prompt = first_user_text(messages)
