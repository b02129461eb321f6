"""Parquet, Arrow IPC (file and stream) and Hugging Face dataset folders in: each row a record for the same
sniffers as JSON; bad tables give clear messages with row locators, and every row is counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cotlens import tabular
from cotlens.cli import app
from cotlens.formats.mapping import load_mapping
from cotlens.ingest import IngestOptions, ingest
from cotlens.sources import expand_paths, read_items
from cotlens.store import Store
from tests.helpers import chat, write_jsonl

QUESTIONS = ["What is 2+2?", "Name a prime above 10.", "Capital of France?"]
THOUGHTS = ["2 plus 2 makes 4.", "11 is prime: no divisor up to its root.", "France's capital is Paris."]
ANSWERS = ["4", "11", "Paris"]


def chat_rows() -> list[dict[str, Any]]:
    """Rows as an SFT dataset publishes them: a `messages` column, reasoning in <think> in the assistant turn."""
    return [
        {
            "messages": [
                {"role": "user", "content": q},
                {"role": "assistant", "content": f"<think>\n{t}\n</think>\n\n{a}"},
            ],
            "source": "synthetic",
        }
        for q, t, a in zip(QUESTIONS, THOUGHTS, ANSWERS, strict=True)
    ]


def sharegpt_rows() -> list[dict[str, Any]]:
    return [
        {
            "conversations": [
                {"from": "human", "value": q},
                {"from": "gpt", "value": f"<think>{t}</think>{a}, as ShareGPT says"},
            ]
        }
        for q, t, a in zip(QUESTIONS, THOUGHTS, ANSWERS, strict=True)
    ]


def write_stream(path: Path, table: pa.Table, max_chunksize: int | None = None) -> Path:
    with pa.ipc.new_stream(path, table.schema) as writer:
        writer.write_table(table, max_chunksize=max_chunksize)
    return path


def rows_of(store: Store) -> list[dict[str, Any]]:
    rows = store.read().to_pylist()
    return sorted(rows, key=lambda r: (r["source_path"], int(r["source_locator"].split()[1])))


def rejects(store: Store) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for f in sorted((store.root / "rejects").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]


def test_parquet_chat_messages_rows_are_records(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "sft.parquet"
    pq.write_table(pa.Table.from_pylist(chat_rows()), path)
    result = ingest([str(path)], store, IngestOptions(model="qwen3-8b"))
    assert result.totals == {"records": 3, "rejected": 0, "transcripts": 3, "added": 3, "duplicate": 0}
    rows = rows_of(store)
    assert [r["source_locator"] for r in rows] == ["row 0", "row 1", "row 2"]
    assert [r["reasoning"] for r in rows] == THOUGHTS
    assert [r["answer"] for r in rows] == ANSWERS
    assert [r["prompt"] for r in rows] == QUESTIONS
    assert {r["format"] for r in rows} == {"chat-messages"}
    assert {r["model"] for r in rows} == {"qwen3-8b"}
    assert {r["dataset"] for r in rows} == {None}  # a loose file is in no dataset folder


def test_without_a_model_each_row_says_so(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "sft.parquet"
    pq.write_table(pa.Table.from_pylist(chat_rows()), path)
    result = ingest([str(path)], store)
    assert result.totals["rejected"] == 3
    assert result.inputs[0].error == (
        "no record could be read (row 0: no model name in the record: give --model NAME (or model_name in a --map))"
    )


@pytest.mark.parametrize("writer", ["feather", "arrow-file", "arrow-stream"])
def test_arrow_files_and_streams(tmp_path: Path, store: Store, writer: str) -> None:
    table = pa.Table.from_pylist(sharegpt_rows())
    path = tmp_path / "convs.bin"  # the name says nothing: the content does
    if writer == "feather":
        feather.write_feather(table, path)
    elif writer == "arrow-file":
        with pa.ipc.new_file(path, table.schema) as w:
            w.write_table(table, max_chunksize=2)
    else:
        write_stream(path, table, max_chunksize=1)
    result = ingest([str(path)], store, IngestOptions(model="m"))
    assert result.totals["added"] == 3 and result.inputs[0].formats == {"sharegpt": 3}
    rows = rows_of(store)
    assert [r["source_locator"] for r in rows] == ["row 0", "row 1", "row 2"]
    assert [r["reasoning"] for r in rows] == THOUGHTS


def test_content_not_the_name_decides(tmp_path: Path, store: Store) -> None:
    """A Parquet file named .jsonl is a table; a JSON Lines file named .parquet is JSON Lines."""
    table_path = tmp_path / "looks-like.jsonl"
    pq.write_table(pa.Table.from_pylist(chat_rows()), table_path)
    lines_path = write_jsonl(tmp_path / "looks-like.parquet", [chat(1), chat(2)])
    result = ingest([str(table_path), str(lines_path)], store, IngestOptions(model="m"))
    assert [(s.records, s.rejected) for s in result.inputs] == [(3, 0), (2, 0)]


def test_null_cells_are_absent_fields(tmp_path: Path, store: Store) -> None:
    """A table made from records of two shapes has every field of both, null where a record lacks it."""
    openai = chat(1, reasoning="Think in OpenAI form.", answer="A", model="deepseek-r1")
    anthropic = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "Think in Anthropic form.", "signature": "c2ln"},
            {"type": "text", "text": "B"},
        ],
        "stop_reason": "end_turn",
    }
    path = tmp_path / "mixed.parquet"
    schema = pa.unify_schemas([pa.Table.from_pylist([r]).schema for r in (openai, anthropic)])
    pq.write_table(pa.Table.from_pylist([openai, anthropic], schema=schema), path)
    result = ingest([str(path)], store)
    assert result.totals["rejected"] == 0, rejects(store)
    assert result.inputs[0].formats == {"openai-chat": 1, "anthropic": 1}
    assert [(r["reasoning"], r["answer"]) for r in rows_of(store)] == [
        ("Think in OpenAI form.", "A"),
        ("Think in Anthropic form.", "B"),
    ]


def test_flat_columns_with_a_mapping(tmp_path: Path, store: Store) -> None:
    toml = tmp_path / "map.toml"
    toml.write_text('reasoning = "deepseek_reasoning"\nanswer = "deepseek_solution"\nprompt = "problem"\n')
    table = pa.table(
        {
            "problem": QUESTIONS,
            "deepseek_reasoning": THOUGHTS,
            "deepseek_solution": ANSWERS,
        }
    )
    path = tmp_path / "flat.parquet"
    pq.write_table(table, path)
    options = IngestOptions(model="deepseek-r1", mapping=load_mapping([str(toml)]))
    result = ingest([str(path)], store, options)
    assert result.totals["added"] == 3
    assert [r["reasoning"] for r in rows_of(store)] == THOUGHTS


def test_binary_text_columns_are_decoded(tmp_path: Path, store: Store) -> None:
    table = pa.table(
        {
            "prompt": pa.array([b"Q1", b"Q2"], pa.binary()),
            "response": pa.array(
                [b"<think>caf\xc3\xa9</think>ok", b"<think>bad \xff byte</think>ok"], pa.binary()
            ),
        }
    )
    path = tmp_path / "bytes.parquet"
    pq.write_table(table, path)
    result = ingest([str(path)], store, IngestOptions(model="m"))
    assert result.totals["added"] == 2
    rows = rows_of(store)
    assert [r["reasoning"] for r in rows] == ["caf\u00e9", "bad \ufffd byte"]
    assert [r["repairs"] for r in rows] == [[], ["invalid-utf8"]]


def test_row_groups_and_batches_stream_in_bounded_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows come a row group at a time, in blocks that stay small whatever the file size; locators count rows
    across the whole file."""
    monkeypatch.setattr(tabular, "MAX_SLICE_ROWS", 4)
    table = pa.Table.from_pylist([{"response": f"<think>t{i}</think>a{i}"} for i in range(25)])
    path = tmp_path / "many.parquet"
    pq.write_table(table, path, row_group_size=10)
    blocks = list(read_items(str(path), lambda obj: True))
    assert all(isinstance(b, tabular.RowBlock) for b in blocks)
    sizes = [b.batch.num_rows for b in blocks if isinstance(b, tabular.RowBlock) and b.batch is not None]
    assert sizes == [4, 4, 2, 4, 4, 2, 4, 1]  # three row groups of 10, 10 and 5 rows
    locators = [item.locator for b in blocks if isinstance(b, tabular.RowBlock) for item in b.items()]
    assert locators == [f"row {i}" for i in range(25)]
    stream = write_stream(tmp_path / "many.arrows", table, max_chunksize=9)
    stream_sizes = [b.batch.num_rows for b in read_items(str(stream), lambda obj: True)]  # type: ignore[union-attr]
    assert stream_sizes == [4, 4, 1, 4, 4, 1, 4, 3]


def save_to_disk(folder: Path, rows: list[dict[str, Any]], shards: int = 2) -> None:
    """What `datasets.Dataset.save_to_disk` leaves: Arrow stream shards, state.json and dataset_info.json."""
    folder.mkdir(parents=True)
    table = pa.Table.from_pylist(rows)
    names = [f"data-{i:05d}-of-{shards:05d}.arrow" for i in range(shards)]
    step = -(-len(rows) // shards)
    for i, name in enumerate(names):
        write_stream(folder / name, table.slice(i * step, step))
    state = {"_data_files": [{"filename": n} for n in names], "_fingerprint": "0", "_split": "train"}
    (folder / "state.json").write_text(json.dumps(state))
    (folder / "dataset_info.json").write_text(json.dumps({"features": {}, "citation": ""}))


def test_a_save_to_disk_folder_names_the_dataset(tmp_path: Path, store: Store) -> None:
    save_to_disk(tmp_path / "OpenThoughts-mini", chat_rows())
    result = ingest([str(tmp_path / "OpenThoughts-mini")], store, IngestOptions(model="m"))
    assert [Path(s.path).name for s in result.inputs] == [
        "data-00000-of-00002.arrow",
        "data-00001-of-00002.arrow",
    ]
    assert result.totals == {"records": 3, "rejected": 0, "transcripts": 3, "added": 3, "duplicate": 0}
    rows = rows_of(store)
    assert {r["dataset"] for r in rows} == {"OpenThoughts-mini"}
    assert [r["source_locator"] for r in rows] == ["row 0", "row 1", "row 0"]  # rows of each shard
    # --dataset still wins over the folder's name.
    other = Store(tmp_path / "other")
    ingest([str(tmp_path / "OpenThoughts-mini")], other, IngestOptions(model="m", dataset="mine"))
    assert {r["dataset"] for r in other.read().to_pylist()} == {"mine"}


def test_a_dataset_dict_and_a_hub_download(tmp_path: Path, store: Store) -> None:
    dict_folder = tmp_path / "sft-dict"
    save_to_disk(dict_folder / "train", chat_rows()[:2], shards=1)
    save_to_disk(dict_folder / "test", chat_rows()[2:], shards=1)
    (dict_folder / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    hub = tmp_path / "hub-download"
    (hub / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(sharegpt_rows()), hub / "data" / "train-00000-of-00001.parquet")
    (hub / "README.md").write_text("---\nlicense: mit\n---\n# A dataset card\n")
    result = ingest([str(tmp_path)], store, IngestOptions(model="m"))
    assert not result.failed_inputs
    assert sorted(Path(s.path).relative_to(tmp_path).as_posix() for s in result.inputs) == [
        "hub-download/data/train-00000-of-00001.parquet",
        "sft-dict/test/data-00000-of-00001.arrow",
        "sft-dict/train/data-00000-of-00001.arrow",
    ]
    datasets = sorted((r["dataset"], r["format"]) for r in store.read().to_pylist())
    assert datasets == [("hub-download", "sharegpt")] * 3 + [("sft-dict", "chat-messages")] * 3
    # A folder that happens to be called data, in no downloaded dataset, names none.
    (tmp_path / "project" / "data").mkdir(parents=True)
    loose = tmp_path / "project" / "data" / "runs.parquet"
    pq.write_table(pa.table({"a": [1]}), loose)
    assert tabular.dataset_name(str(loose)) is None
    assert tabular.dataset_name(str(hub / "data" / "train-00000-of-00001.parquet")) == "hub-download"


def test_a_walk_finds_tables_by_content(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [1]}), tmp_path / "no-suffix")
    (tmp_path / "notes").write_text("not a table")
    (tmp_path / "state.json").write_text("{}")  # a dataset's description, beside a table
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "state.json").write_text("{}")  # beside no table: a JSON input like any other
    assert [Path(p).relative_to(tmp_path).as_posix() for p in expand_paths([str(tmp_path)])] == [
        "json/state.json",
        "no-suffix",
    ]


def test_parquet_from_stdin(tmp_path: Path) -> None:
    path = tmp_path / "sft.parquet"
    pq.write_table(pa.Table.from_pylist(chat_rows()), path)
    args = ["ingest", "-", "--store", str(tmp_path / "store"), "--model", "m", "--json"]
    done = CliRunner().invoke(app, args, input=path.read_bytes())
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["totals"]["added"] == 3


# Bad input


def test_no_usable_column_rejects_each_row_with_its_keys(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"score": [0.5, 0.7], "label": ["a", None]}), path)
    good = tmp_path / "good.parquet"
    pq.write_table(pa.Table.from_pylist(chat_rows()), good)
    result = ingest([str(path), str(good)], store, IngestOptions(model="m"))
    bad, fine = result.inputs
    assert (bad.records, bad.rejected, fine.added) == (2, 2, 3)
    assert bad.error is not None and bad.error.startswith("no record could be read (row 0: unknown shape: ")
    first, second = rejects(store)
    assert (first["source_locator"], second["source_locator"]) == ("row 0", "row 1")
    assert "keys seen: label, score;" in first["reason"]
    assert "keys seen: score;" in second["reason"]  # the null cell is no field
    assert json.loads(second["excerpt"]) == {"score": 0.7}


def test_a_corrupt_footer_is_an_input_error(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "broken.parquet"
    pq.write_table(pa.Table.from_pylist(chat_rows()), path)
    data = path.read_bytes()
    path.write_bytes(data[:-12] + b"\x00" * 8 + data[-4:])  # footer length and metadata damaged, magic kept
    good = write_jsonl(tmp_path / "good.jsonl", [chat(1)])
    result = ingest([str(path), str(good)], store)
    assert result.inputs[0].error is not None
    assert result.inputs[0].error.startswith("corrupt Parquet file: ")
    assert result.inputs[1].added == 1
    [reject] = rejects(store)
    assert (reject["source_locator"], reject["reason"]) == ("(input)", result.inputs[0].error)


def test_a_column_of_the_wrong_type_names_the_field(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"reasoning_content": [1, 2], "content": ["a", "b"]}), path)
    result = ingest([str(path)], store, IngestOptions(model="m"))
    assert (result.totals["records"], result.totals["rejected"]) == (2, 2)
    error = result.inputs[
        0
    ].error  # no row could be read: the first reason is the input's error, no store made
    assert error is not None and "reasoning_content" in error


def test_an_unreadable_row_group_rejects_its_rows_only(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "groups.parquet"
    rows = [{"response": f"<think>step {i}</think>answer {i}"} for i in range(9)]
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=3, compression="none")
    column = pq.ParquetFile(path).metadata.row_group(1).column(0)
    data = bytearray(path.read_bytes())
    start = column.data_page_offset
    data[start : start + 16] = b"\xff" * 16  # the middle row group's page header
    path.write_bytes(bytes(data))
    result = ingest([str(path)], store, IngestOptions(model="m"))
    assert result.totals == {"records": 9, "rejected": 3, "transcripts": 6, "added": 6, "duplicate": 0}
    assert [r["source_locator"] for r in rejects(store)] == ["row 3", "row 4", "row 5"]
    assert all(r["reason"].startswith("unreadable Parquet row group 1: ") for r in rejects(store))
    assert [r["source_locator"] for r in rows_of(store)] == [
        "row 0",
        "row 1",
        "row 2",
        "row 6",
        "row 7",
        "row 8",
    ]


@pytest.mark.parametrize("kind", ["arrow-file", "arrow-stream"])
def test_arrow_truncated_mid_batch(tmp_path: Path, store: Store, kind: str) -> None:
    table = pa.Table.from_pylist(sharegpt_rows())
    path = tmp_path / f"cut.{kind}"
    if kind == "arrow-file":
        with pa.ipc.new_file(path, table.schema) as w:
            w.write_table(table, max_chunksize=1)
    else:
        write_stream(path, table, max_chunksize=1)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) * 3 // 4])  # inside the third batch (the footer is small)
    result = ingest([str(path)], store, IngestOptions(model="m"))
    summary = result.inputs[0]
    assert (summary.records, summary.added) == (2, 2)
    assert summary.error is not None
    assert summary.error.startswith("corrupt or truncated Arrow data after row 2: ")


def test_feather_v1_is_named(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "old.feather"
    path.write_bytes(b"FEA1" + b"\x00" * 64)
    result = ingest([str(path)], store)
    assert result.inputs[0].error == (
        "a Feather version 1 file: write it again as Feather version 2 (pyarrow.feather)"
    )


def test_parquet_size_for_the_pool_is_its_uncompressed_data(tmp_path: Path) -> None:
    """Whether ingest starts worker processes depends on the bytes to parse, not on a compressed file's size."""
    path = tmp_path / "repetitive.parquet"
    pq.write_table(pa.table({"response": ["<think>" + "wait " * 2000 + "</think>ok"] * 50}), path)
    size = tabular.parquet_data_size(str(path))
    assert size is not None and size > 10 * path.stat().st_size
    assert tabular.parquet_data_size(str(write_jsonl(tmp_path / "a.jsonl", [chat(1)]))) is None


def test_row_blocks_are_parsed_in_worker_processes_alike(tmp_path: Path) -> None:
    path = tmp_path / "sft.parquet"
    table = pa.Table.from_pylist([{"response": f"<think>thought {i}</think>answer {i}"} for i in range(40)])
    pq.write_table(table, path, row_group_size=7)
    one, two = Store(tmp_path / "one"), Store(tmp_path / "two")
    ingest([str(path)], one, IngestOptions(model="m", jobs=1, measure=False))
    result = ingest([str(path)], two, IngestOptions(model="m", jobs=2, measure=False))
    assert result.totals["added"] == 40
    columns = ["transcript_id", "source_locator", "reasoning", "answer"]
    assert two.read(columns=columns).to_pylist() == one.read(columns=columns).to_pylist()
