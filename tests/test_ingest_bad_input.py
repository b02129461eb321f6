"""Bad input: each case gives a clear reason with its locator, good records still land, nothing crashes."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import orjson

from cotlens.ingest import IngestOptions, ingest
from cotlens.store import Store
from tests.helpers import chat, write_jsonl


def rejects(store: Store) -> list[dict]:
    return [
        json.loads(line)
        for f in sorted((store.root / "rejects").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]


def test_truncated_line_is_rejected_with_its_line_number(tmp_path: Path, store: Store) -> None:
    good = orjson.dumps(chat(1)) + b"\n"
    path = write_jsonl(tmp_path / "a.jsonl", [good, good[:40] + b"\n", orjson.dumps(chat(3)) + b"\n"])
    result = ingest([str(path)], store)
    assert result.totals == {"records": 3, "rejected": 1, "transcripts": 2, "added": 2, "duplicate": 0}
    [reject] = rejects(store)
    assert reject["source_locator"] == "line 2"
    assert reject["reason"].startswith("invalid JSON: unexpected end of data")
    assert reject["excerpt"] == good[:40].decode()


def test_invalid_utf8_is_repaired_not_lost(tmp_path: Path, store: Store) -> None:
    line = orjson.dumps(chat(1, reasoning="caf\u00e9 XX")).replace(b"XX", b"\xff\xfe")
    path = write_jsonl(tmp_path / "a.jsonl", [line + b"\n"])
    result = ingest([str(path)], store)
    assert result.totals["added"] == 1
    [row] = store.read().to_pylist()
    assert row["reasoning"] == "caf\u00e9 \ufffd\ufffd"
    assert row["repairs"] == ["invalid-utf8"]


def test_bom_and_blank_lines_are_skipped(tmp_path: Path, store: Store) -> None:
    data = b"\xef\xbb\xbf" + orjson.dumps(chat(1)) + b"\n\n  \n" + orjson.dumps(chat(2)) + b"\n"
    (tmp_path / "a.jsonl").write_bytes(data)
    result = ingest([str(tmp_path / "a.jsonl")], store)
    assert result.totals["added"] == 2
    assert sorted(r["source_locator"] for r in store.read().to_pylist()) == ["line 1", "line 4"]


def test_nul_bytes(tmp_path: Path, store: Store) -> None:
    raw_nul = orjson.dumps(chat(1)).replace(b"Let me", b"Let\x00me")
    escaped_nul = orjson.dumps(chat(2, reasoning="a\u0000b"))
    path = write_jsonl(tmp_path / "a.jsonl", [raw_nul + b"\n", escaped_nul + b"\n"])
    result = ingest([str(path)], store)
    assert (result.totals["added"], result.totals["rejected"]) == (1, 1)
    assert "control character" in rejects(store)[0]["reason"]
    assert store.read().to_pylist()[0]["reasoning"] == "a\u0000b"


def test_empty_file_reads_no_records(tmp_path: Path, store: Store) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    result = ingest([str(tmp_path / "empty.jsonl")], store)
    assert result.totals["records"] == 0 and not result.failed_inputs


def test_a_50_mb_single_line_lands(tmp_path: Path, store: Store) -> None:
    reasoning = "Wait, let me recount the cases. " * (50 * 1024 * 1024 // 32)
    path = write_jsonl(tmp_path / "big.jsonl", [chat(1, reasoning=reasoning)])
    assert path.stat().st_size > 50_000_000
    result = ingest([str(path)], store)
    assert result.totals["added"] == 1
    assert store.read(columns=["reasoning_chars"]).column(0).to_pylist() == [len(reasoning.strip())]


def test_wrong_types_name_the_field(tmp_path: Path, store: Store) -> None:
    as_number = chat(1)
    as_number["choices"][0]["message"]["reasoning_content"] = 17
    as_list = {"model": "m", "reasoning_content": ["a", "b"], "content": "x"}
    path = write_jsonl(tmp_path / "a.jsonl", [as_number, as_list, chat(3)])
    result = ingest([str(path)], store)
    assert (result.totals["added"], result.totals["rejected"]) == (1, 2)
    reasons = {r["source_locator"]: r["reason"] for r in rejects(store)}
    assert reasons == {
        "line 1": "choices[0].message.reasoning_content is a number, expected a string",
        "line 2": "reasoning_content is a list, expected a string",
    }


def test_deeply_nested_json_is_rejected(tmp_path: Path, store: Store) -> None:
    deep = b'{"model": "m", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    path = write_jsonl(tmp_path / "a.jsonl", [deep + b"\n", orjson.dumps(chat(2)) + b"\n"])
    result = ingest([str(path)], store)
    assert (result.totals["added"], result.totals["rejected"]) == (1, 1)
    assert "depth limit" in rejects(store)[0]["reason"]


def test_json_that_holds_no_records_is_an_input_error(tmp_path: Path, store: Store) -> None:
    (tmp_path / "n.json").write_text("42")
    (tmp_path / "o.json").write_text('{"meta": {"a": 1}, "note": "hello"}')
    result = ingest([str(tmp_path / "n.json"), str(tmp_path / "o.json")], store)
    errors = [s.error for s in result.inputs]
    assert errors[0] == "a JSON int is neither an array nor an object of records"
    assert errors[1] is not None and errors[1].startswith(
        "a JSON object that is not a record and holds no list of records (keys: meta, note)"
    )


def test_json_array_and_object_of_records(tmp_path: Path, store: Store) -> None:
    (tmp_path / "arr.json").write_bytes(orjson.dumps([chat(1), chat(2)], option=orjson.OPT_INDENT_2))
    (tmp_path / "obj.json").write_bytes(orjson.dumps({"meta": {"n": 2}, "results": [chat(3), chat(4)]}))
    result = ingest([str(tmp_path / "arr.json"), str(tmp_path / "obj.json")], store)
    assert result.totals["added"] == 4
    locators = sorted(r["source_locator"] for r in store.read().to_pylist())
    assert locators == ["[0]", "[1]", "results[0]", "results[1]"]


def test_corrupt_gzip_keeps_the_records_before_the_damage(tmp_path: Path, store: Store) -> None:
    data = b"".join(orjson.dumps(chat(i, reasoning=f"step {i} " * 200)) + b"\n" for i in range(200))
    packed = gzip.compress(data)
    (tmp_path / "a.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    result = ingest([str(tmp_path / "a.jsonl.gz")], store)
    [summary] = result.inputs
    assert summary.error == "truncated gzip data: the stream ends before its end marker"
    assert 0 < summary.added < 200
    assert store.read().num_rows == summary.added


def test_corrupt_zip_is_an_input_error(tmp_path: Path, store: Store) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("samples/1_epoch_1.json", "{}")
    (tmp_path / "bad.eval").write_bytes(buf.getvalue()[:30])
    result = ingest([str(tmp_path / "bad.eval")], store)
    assert result.inputs[0].error is not None and result.inputs[0].error.startswith("corrupt zip archive")


def test_missing_file_among_good_ones(tmp_path: Path, store: Store) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [chat(1), chat(2)])
    result = ingest([str(good), str(tmp_path / "missing.jsonl")], store)
    assert result.totals["added"] == 2
    assert [s.error for s in result.inputs] == [None, "no such file"]
    assert any(r["source_locator"] == "(input)" for r in rejects(store))


def test_unknown_shape_names_keys_and_known_shapes(tmp_path: Path, store: Store) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl", [{"question": "q", "rationale": "grader says fine", "score": 1}] * 2
    )
    result = ingest([str(path)], store)
    error = result.inputs[0].error
    assert error is not None
    assert "keys seen: question, rationale, score" in error
    assert "known shapes: inspect, openai-responses, openai-chat" in error


def test_record_without_model_is_rejected_unless_given(tmp_path: Path, store: Store) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"response": "<think>hm</think>ok"}])
    result = ingest([str(path)], store)
    assert result.totals["rejected"] == 1
    error = result.inputs[0].error
    assert error is not None and "no model name in the record" in error
    assert not store.root.exists()  # nothing could be read: no store is created
    result = ingest([str(path)], store, IngestOptions(model="m"))
    assert result.totals["added"] == 1


def test_corrupt_zstd_is_an_input_error(tmp_path: Path, store: Store) -> None:
    import zstandard

    data = b"".join(orjson.dumps(chat(i, reasoning=f"step {i} " * 200)) + b"\n" for i in range(200))
    packed = zstandard.ZstdCompressor().compress(data)
    (tmp_path / "a.jsonl.zst").write_bytes(
        packed[: len(packed) // 2] + b"\x00" * 64 + packed[len(packed) // 2 :]
    )
    result = ingest([str(tmp_path / "a.jsonl.zst")], store)
    [summary] = result.inputs
    assert summary.error is not None and summary.error.startswith("corrupt")
    assert summary.added < 200  # what precedes the damage may land; nothing after it does
