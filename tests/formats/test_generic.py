"""Generic records: the synonym table (data, and the README's table of it), nesting, the suffix rule, parallel
lists, hidden reasoning, ambiguity warnings, ties."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cotlens.formats import detect_format
from cotlens.formats.base import Context
from cotlens.formats.generic import key_role, plan_record, synonyms
from cotlens.ingest import IngestOptions, ingest
from cotlens.store import Store
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def one(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    fmt = detect_format(record)
    assert fmt.name == "generic"
    out = []
    for parsed in fmt.parse(record, Context()):
        t = parsed.finish()
        out.append(
            (t.model, t.reasoning, t.answer, t.reasoning_kind, t.reasoning_tokens_reported, t.sample_id)
        )
    return out


def test_readme_synonym_table_is_the_data() -> None:
    section = README.split("### Generic records", 1)[1].split("**Prefixed names.**", 1)[0]
    rows = {
        m[1]: re.findall(r"`([^`]+)`", m[2].split(" (")[0])
        for m in re.finditer(r"^\| (\w+) \| (.*) \|$", section, re.M)
        if m[1] != "role"
    }
    roles = synonyms().roles
    assert set(rows) == set(roles)
    for role, names in roles.items():
        assert tuple(rows[role]) == names, role
    excluded = README.split("**Prefixed names.**", 1)[1].split("**Lists.**", 1)[0]
    for word in synonyms().excluded_prefixes:
        assert f"`{word}`" in excluded, word


@pytest.mark.parametrize(
    ("key", "role"),
    [
        ("thinking", "reasoning"),
        ("deepseek_reasoning", "reasoning"),
        ("original_reasoning_trace", "reasoning"),
        ("inner_thought", "reasoning"),
        ("deepseek_solution", "answer"),
        ("model_outputs", "samples"),
        ("generated_solution", "answer"),
        ("expected_answer", None),
        ("generation_model", "model"),
        ("solution", None),  # alone: a reference solution
        ("ground_truth_solution", None),
        ("gold_answer", None),
        ("judge_reasoning", None),
        ("prompt_text", None),
        ("reasoning_tokens", "reasoning_tokens"),
        ("num_thoughts_total", None),
    ],
)
def test_suffix_rule(key: str, role: str | None) -> None:
    hit = key_role(key)
    assert (hit[0] if hit else None) == role


def test_flat_and_nested_give_the_same_transcript() -> None:
    flat = {"model": "m", "thinking": "R", "content": "A", "reasoning_tokens": 5}
    nested = {
        "model": "m",
        "message": {"role": "assistant", "thinking": "R", "content": "A"},
        "reasoning_tokens": 5,
    }
    in_choice = {
        "model": "m",
        "choices": [{"message": {"thinking": "R", "content": "A"}}],
        "usage": {"reasoning_tokens": 5},
    }
    want = [("m", "R", "A", "raw", 5, None)]
    assert one(flat) == one(nested) == want
    # choices[0].message is openai-chat's: the specific shape keeps it.
    assert detect_format(in_choice).name == "openai-chat"


def test_model_object_and_metadata_model() -> None:
    assert one({"model": {"name": "x", "id": "y"}, "cot": "R", "answer": "A"})[0][0] == "x"
    assert one({"metadata": {"model": "z"}, "cot": "R", "answer": "A"})[0][0] == "z"


def test_parallel_lists_with_nulls_and_nested_details() -> None:
    record = {
        "model": "m",
        "thinking": ["r0", None, "r2"],
        "response": ["a0", "a1", None],
        "completion_tokens_details": [{"reasoning_tokens": 7}, {"reasoning_tokens": 9}, None],
    }
    assert one(record) == [
        ("m", "r0", "a0", "raw", 7, "0"),
        ("m", None, "a1", "hidden", 9, "1"),
        ("m", "r2", None, "raw", None, "2"),
    ]


def test_segments_when_only_the_reasoning_is_a_list() -> None:
    assert one({"model": "m", "thoughts": ["s1", None, "s2"], "final_answer": "A"}) == [
        ("m", "s1\n\ns2", "A", "raw", None, None)
    ]


def test_samples_list_is_per_sample_and_split_inline() -> None:
    record = {"model": "m", "completions": ["<think>r0</think>a0", "r1</think>a1"]}
    assert one(record) == [("m", "r0", "a0", "raw", None, "0"), ("m", "r1", "a1", "raw", None, "1")]


def test_summary_kind_and_hidden() -> None:
    assert one({"model": "m", "reasoning_summary": [{"text": "S1"}, {"text": "S2"}], "content": "A"}) == [
        ("m", "S1\n\nS2", "A", "summary", None, None)
    ]
    assert one({"model": "m", "thinking": None, "text": "A", "usage": {"reasoning_tokens": 64}}) == [
        ("m", None, "A", "hidden", 64, None)
    ]


def test_reasoning_config_object_is_not_text() -> None:
    plan = plan_record({"model": "m", "reasoning": {"effort": "high"}, "thinking": "R", "content": "A"})
    assert plan is not None and plan.path("reasoning") == "thinking" and not plan.notes


def test_specific_shapes_keep_their_records() -> None:
    # A record a specific shape recognizes is never generic.
    assert detect_format({"model": "m", "response": "<think>R</think>A"}).name == "think-tags"
    assert detect_format({"reasoning_content": "R", "content": "A"}).name == "reasoning-content"
    assert (
        detect_format({"model": "m", "message": {"thinking": "R", "content": "A"}, "done": True}).name
        == "ollama"
    )
    # ... but a completion string beside a named reasoning field is generic (think-tags would drop the field).
    assert detect_format({"model": "m", "thinking": "R", "response": "A"}).name == "generic"


def write(tmp_path: Path, name: str, records: list[dict[str, Any]]) -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_ambiguity_warns_once_per_input(tmp_path: Path, store: Store) -> None:
    records = [
        {"model": "m", "thinking": f"R{i}", "reasoning": "grader: fine", "response": f"A{i}"}
        for i in range(3)
    ]
    result = ingest([write(tmp_path, "a.jsonl", records)], store)
    summary = result.inputs[0]
    assert summary.added == 3
    [(message, warned)] = summary.warnings.items()
    assert "thinking" in message and "--map reasoning=reasoning" in message
    assert (warned.records, warned.first) == (3, "line 1")
    rows = store.read().to_pylist()
    assert sorted(r["reasoning"] for r in rows) == ["R0", "R1", "R2"]


def test_bad_input_is_rejected_with_a_reason(tmp_path: Path, store: Store) -> None:
    records = [
        {"model": "m", "thinking": ["r0", "r1", "r2"], "output": ["a0", "a1"]},
        {
            "model": "m",
            "message": {"thinking": "R", "content": "A"},
            "response": {"thinking": "R2", "content": "B"},
        },
        {"model": "m", "thinking": "fine", "content": "ok"},
    ]
    result = ingest([write(tmp_path, "bad.jsonl", records)], store)
    s = result.inputs[0]
    assert (s.records, s.added, s.rejected) == (3, 1, 2)
    rejects = [
        json.loads(line) for f in (store.root / "rejects").iterdir() for line in f.read_text().splitlines()
    ]
    reasons = {r["source_locator"]: r["reason"] for r in rejects}
    assert reasons["line 1"] == "parallel lists differ in length: thinking[*] has 3, output[*] has 2"
    assert "matches two shapes equally: texts in both message and response" in reasons["line 2"]


def write_doc(tmp_path: Path, doc: Any) -> str:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("doc_model", "where"),
    [({"model": {"name": 5}}, "model.name"), ({"meta": {"model": ["a"]}}, "meta.model")],
)
def test_document_model_not_a_string(tmp_path: Path, store: Store, doc_model: Any, where: str) -> None:
    doc = {
        **doc_model,
        "results": [{"thinking": "R", "content": "A"}, {"model": "own", "thinking": "R", "content": "A"}],
    }
    result = ingest([write_doc(tmp_path, doc)], store)
    s = result.inputs[0]
    assert (s.records, s.added, s.rejected) == (2, 1, 1)
    [reject] = [
        json.loads(line) for f in (store.root / "rejects").iterdir() for line in f.read_text().splitlines()
    ]
    assert reject["source_locator"] == "results[0]"
    assert reject["reason"].startswith(f"document-level model at {where} is ")
    assert store.read().to_pylist()[0]["model"] == "own"


def test_document_model_applies_to_records_naming_none(tmp_path: Path, store: Store) -> None:
    doc = {
        "config": {"model": "doc-model"},
        "data": [{"cot": "R", "answer": "A"}, {"model": "own", "cot": "R", "answer": "B"}],
    }
    ingest([write_doc(tmp_path, doc)], store)
    assert sorted(r["model"] for r in store.read().to_pylist()) == ["doc-model", "own"]


def test_array_of_strings_is_records(tmp_path: Path, store: Store) -> None:
    doc = ["<think>R1</think>A1", "<|channel|>analysis<|message|>R2<|end|><|channel|>final<|message|>A2"]
    ingest([write_doc(tmp_path, doc)], store, IngestOptions(model="m"))
    rows = sorted(store.read().to_pylist(), key=lambda r: r["source_locator"])
    assert [(r["source_locator"], r["reasoning"], r["answer"]) for r in rows] == [
        ("[0]", "R1", "A1"),
        ("[1]", "R2", "A2"),
    ]


def test_specific_flat_shapes_read_reported_tokens_too() -> None:
    record = {
        "model": "m",
        "reasoning_content": "R",
        "content": "A",
        "usage": {"completion_tokens": 10, "completion_tokens_details": {"reasoning_tokens": 7}},
    }
    fmt = detect_format(record)
    assert fmt.name == "reasoning-content"
    t = fmt.parse(record, Context())[0].finish()
    assert (t.reasoning_tokens_reported, t.output_tokens_reported) == (7, 10)


def test_document_holding_records_is_not_itself_a_record(tmp_path: Path, store: Store) -> None:
    doc = {"model": "x", "output": "a run summary", "results": [{"cot": "R", "answer": "A"}]}
    result = ingest([write_doc(tmp_path, doc)], store)
    assert result.inputs[0].records == 1
    [row] = store.read().to_pylist()
    assert (row["source_locator"], row["model"], row["reasoning"]) == ("results[0]", "x", "R")


def test_samples_list_of_objects() -> None:
    record = {
        "model": "m",
        "prompt": "p",
        "outputs": [
            {"text": "<think>r0</think>a0", "finish_reason": "stop", "usage": {"reasoning_tokens": 3}},
            None,
            {"text": "r2</think>a2", "finish_reason": "length", "usage": {"reasoning_tokens": 4}},
        ],
    }
    assert one(record) == [
        ("m", "r0", "a0", "raw", 3, "0"),
        ("m", None, None, "none", None, "1"),
        ("m", "r2", "a2", "raw", 4, "2"),
    ]


def test_records_of_one_file_with_different_values_get_their_own_plans() -> None:
    # Same keys; a null count, an empty text, a list instead of a string: each record is planned by what it holds.
    records = [
        {"model": "m", "thinking": "R", "reasoning": "", "content": "A", "reasoning_tokens": None},
        {"model": "m", "thinking": "R", "reasoning": "judge", "content": "A", "reasoning_tokens": 5},
        {
            "model": "m",
            "thinking": ["r0", "r1"],
            "reasoning": "",
            "content": ["a0", "a1"],
            "reasoning_tokens": 5,
        },
    ]
    fmt = detect_format(records[0])
    plans = [fmt.plan(r) for r in records]
    assert [p.path("reasoning_tokens") for p in plans] == [None, "reasoning_tokens", "reasoning_tokens"]
    assert [len(p.notes) for p in plans] == [0, 1, 0]
    assert [p.parallel for p in plans] == [False, False, True]


def test_research_dump_reads_with_model_alone_as_with_its_mapping(tmp_path: Path) -> None:
    from cotlens.formats.mapping import load_mapping
    from tests.conftest import FORMATS

    source = str(FORMATS / "research-dump.json")
    plain, mapped = Store(tmp_path / "plain"), Store(tmp_path / "mapped")
    result = ingest([source], plain, IngestOptions(model="probe-model"))
    ingest([source], mapped, IngestOptions(mapping=load_mapping([str(FORMATS / "research-dump.toml")])))
    keys = ("transcript_id", "source_locator", "reasoning", "answer", "reasoning_tokens_reported")
    assert sorted(tuple(r[k] for k in keys) for r in plain.read().to_pylist()) == sorted(
        tuple(r[k] for k in keys) for r in mapped.read().to_pylist()
    )
    # The grader's `reasoning` beside the model's `thinking`: said once.
    [message] = result.inputs[0].warnings
    assert "thinking[*]" not in message and "--map reasoning=" in message


def test_prefixed_answer_pairs_with_the_prefixed_reasoning() -> None:
    record = {
        "question": "q",
        "deepseek_thinking_trajectory": "R",
        "gemini_attempt": "G",
        "deepseek_attempt": "D",
        "solution": "reference",
    }
    plan = plan_record(record)
    assert plan is not None
    assert (plan.path("reasoning"), plan.path("answer")) == (
        "deepseek_thinking_trajectory",
        "deepseek_attempt",
    )
    assert any("gemini_attempt" in note for note in plan.notes)


def test_conversations_of_role_messages_are_chat_messages() -> None:
    record = {
        "model": "m",
        "conversations": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "<think>r</think>a"},
        ],
    }
    fmt = detect_format(record)
    t = fmt.parse(record, Context())[0].finish()
    assert (fmt.name, t.prompt, t.reasoning, t.answer) == ("chat-messages", "q", "r", "a")


def test_json_lines_of_strings_are_completions(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "strings.jsonl"
    path.write_text('"<think>r1</think>a1"\n"r2</think>a2"\n7\n', encoding="utf-8")
    result = ingest([str(path)], store, IngestOptions(model="m"))
    s = result.inputs[0]
    assert (s.records, s.added, s.rejected) == (3, 2, 1)
    rows = sorted(store.read().to_pylist(), key=lambda r: r["source_locator"])
    assert [(r["reasoning"], r["answer"]) for r in rows] == [("r1", "a1"), ("r2", "a2")]


def test_samples_win_over_a_single_reference_answer() -> None:
    record = {
        "model": "r1",
        "problem": "p",
        "answer": "42",
        "generations": ["<think>r0</think>42", "r1</think>41"],
    }
    assert one(record) == [("r1", "r0", "42", "raw", None, "0"), ("r1", "r1", "41", "raw", None, "1")]
    plan = plan_record(record)
    assert plan is not None and "used generations" in plan.notes[0]


def test_a_setting_under_a_reasoning_name_is_not_reasoning() -> None:
    # Nemotron post-training rows: `reasoning` says whether thinking was on; the text is inline in `output`.
    record = {"input": "q", "output": "<think>r</think>a", "reasoning": "on", "generator": "DeepSeek-R1"}
    fmt = detect_format(record)
    t = fmt.parse(record, Context())[0].finish()
    assert (fmt.name, t.model, t.reasoning, t.answer) == ("think-tags", "DeepSeek-R1", "r", "a")
    assert plan_record({"model": "m", "thinking": "R", "reasoning": "high", "content": "A"}).notes == ()


def test_llama_cpp_server_completion() -> None:
    record = {
        "model": "qwen3-8b-q4",
        "content": "<think>r</think>a",
        "tokens_predicted": 512,
        "stop_type": "limit",
    }
    fmt = detect_format(record)
    t = fmt.parse(record, Context())[0].finish()
    assert (fmt.name, t.reasoning, t.answer, t.output_tokens_reported, t.truncated) == (
        "generic",
        "r",
        "a",
        512,
        True,
    )
