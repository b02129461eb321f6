"""The store: idempotent, atomic, safe against hostile model names, concurrent ingests both land."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.dataset as ds
import pytest

from cotlens import ingest as ingest_module
from cotlens import sources
from cotlens.errors import StoreError
from cotlens.ingest import IngestOptions, ingest
from cotlens.store import Store
from tests.helpers import chat, write_jsonl


def test_reingesting_adds_nothing(tmp_path: Path, store: Store) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(i) for i in range(5)])
    first = ingest([str(path)], store)
    second = ingest([str(path)], store)
    assert first.totals["added"] == 5
    assert (second.totals["added"], second.totals["duplicate"]) == (0, 5)
    assert store.read().num_rows == 5
    runs = store.manifest()["runs"]
    assert len(runs) == 2 and "parts" not in runs[1]  # nothing was written for the second run


def test_same_transcript_in_two_files_is_stored_once(tmp_path: Path, store: Store) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [chat(1), chat(2)])
    b = write_jsonl(tmp_path / "b.jsonl", [chat(2), chat(3)])
    result = ingest([str(a), str(b)], store)
    assert [(s.added, s.duplicate) for s in result.inputs] == [(2, 0), (1, 1)]


def test_identical_text_with_distinct_source_ids_is_kept(tmp_path: Path, store: Store) -> None:
    # Temperature-0 resamples: same words, two real responses.
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1), chat(2)])
    assert ingest([str(path)], store).totals["added"] == 2


def test_a_failed_run_leaves_nothing_visible(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest([str(write_jsonl(tmp_path / "a.jsonl", [chat(1)]))], store)
    before = store.part_files()
    calls = {"n": 0}
    real = ingest_module._account

    def crash_on_third(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "_account", crash_on_third)
    # A line a block and a row group a row: parts are being written when the crash comes.
    monkeypatch.setattr(sources, "BLOCK_BYTES", 1)
    monkeypatch.setattr(sources, "READ_BYTES", 1)
    with pytest.raises(KeyboardInterrupt):
        ingest([str(write_jsonl(tmp_path / "b.jsonl", [chat(i) for i in range(10, 20)]))], store)
    assert store.part_files() == before
    assert store.read().num_rows == 1
    assert not list((store.root / ".staging").glob("*"))


def test_a_hard_crash_is_cleaned_and_recovered(tmp_path: Path, store: Store) -> None:
    ingest([str(write_jsonl(tmp_path / "a.jsonl", [chat(1)]))], store)
    # A run killed while staging, and one killed between its rename and the manifest update.
    (store.root / ".staging" / "dead-run" / "transcripts").mkdir(parents=True)
    [part] = store.part_files()
    orphan = store.transcripts_dir / "20260101T000000-orphan00"
    orphan.mkdir()
    table = ds.dataset(str(part)).to_table()
    import pyarrow.parquet as pq

    pq.write_table(table.set_column(0, "transcript_id", [["x" * 32]]), orphan / "part-00000.parquet")
    ingest([str(write_jsonl(tmp_path / "b.jsonl", [chat(2)]))], store)
    assert not (store.root / ".staging" / "dead-run").exists()
    runs = store.manifest()["runs"]
    assert any(r["run_id"] == orphan.name and r["recovered"] for r in runs)


def test_model_names_never_become_paths(tmp_path: Path, store: Store) -> None:
    hostile = ["../../escape", "/etc/passwd", "a/../../b", "..", "\x1b[31mred", "con"]
    path = write_jsonl(tmp_path / "a.jsonl", [chat(i, model=m) for i, m in enumerate(hostile)])
    ingest([str(path)], store)
    assert sorted(store.read(columns=["model"]).column(0).to_pylist()) == sorted(hostile)
    outside = {p for p in tmp_path.rglob("*")} - {p for p in store.root.rglob("*")} - {store.root, path}
    assert outside == set()
    for part in store.root.rglob("*"):
        assert part.resolve().is_relative_to(store.root.resolve())
        assert "escape" not in part.name and "passwd" not in part.name


def test_concurrent_ingests_both_land(tmp_path: Path) -> None:
    root = tmp_path / "store"
    files = [
        write_jsonl(
            tmp_path / f"{n}.jsonl", [chat(i + 10_000 * n, reasoning="x " * 2000) for i in range(3000)]
        )
        for n in range(2)
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cotlens", "ingest", str(f), "--store", str(root), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for f in files
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [orjson.loads(o)["totals"]["added"] for o, _ in outputs] == [3000, 3000]
    assert Store(root).read().num_rows == 6000
    assert len(Store(root).manifest()["runs"]) == 2


def test_model_option_overrides_and_tags_are_kept(tmp_path: Path, store: Store) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1, model="x")])
    ingest([str(path)], store, IngestOptions(model="renamed", dataset="gsm8k", tags={"run": "7"}))
    [row] = store.read().to_pylist()
    assert (row["model"], row["dataset"]) == ("renamed", "gsm8k")
    assert dict(row["tags"]) == {"finish_reason": "stop", "run": "7"}


def test_reading_a_missing_store_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no cotlens store at"):
        Store(tmp_path / "nowhere").read()


def test_store_is_readable_by_other_engines(tmp_path: Path, store: Store) -> None:
    import duckdb
    import polars as pl

    ingest([str(write_jsonl(tmp_path / "a.jsonl", [chat(i, model=f"m{i % 2}") for i in range(6)]))], store)
    glob = str(store.root / "transcripts" / "*" / "*.parquet")
    duck = duckdb.sql(
        f"select model, count(*) from read_parquet('{glob}') group by model order by model"
    ).fetchall()
    assert duck == [("m0", 3), ("m1", 3)]
    pol = pl.scan_parquet(glob).group_by("model").len().sort("model").collect()
    assert pol.rows() == [("m0", 3), ("m1", 3)]
    arrow = ds.dataset(str(store.root / "transcripts"), format="parquet").to_table(columns=["model"])
    assert arrow.num_rows == 6


def test_worker_processes_give_the_same_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Many blocks, so order across workers matters.
    monkeypatch.setattr(sources, "BLOCK_BYTES", 700)
    monkeypatch.setattr(sources, "READ_BYTES", 100)
    lines = [chat(i % 40, reasoning=f"step {i % 40}") for i in range(60)] + [b"{broken\n"] + [chat(99)]
    path = write_jsonl(tmp_path / "a.jsonl", lines)
    results = {}
    for jobs in (1, 2):
        store = Store(tmp_path / f"store{jobs}")
        result = ingest([str(path)], store, IngestOptions(jobs=jobs))
        rows = store.read(columns=["transcript_id", "source_locator"]).to_pylist()
        results[jobs] = (result.totals, rows)
    assert results[1] == results[2]
    assert results[2][0] == {"records": 62, "rejected": 1, "transcripts": 61, "added": 41, "duplicate": 20}
    parts = Store(tmp_path / "store2").part_files()
    again = ingest([str(path)], Store(tmp_path / "store2"), IngestOptions(jobs=2))
    assert (again.totals["added"], again.totals["duplicate"]) == (0, 61)
    assert Store(tmp_path / "store2").part_files() == parts  # stored transcripts are not written again


def test_runs_are_written_in_full_row_groups_in_input_order(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    import cotlens.store

    monkeypatch.setattr(cotlens.store, "ROW_GROUP_ROWS", 2)
    monkeypatch.setattr(cotlens.store, "PART_ROWS", 4)
    records = [chat(i, f"Thinking about case {i}.") for i in range(10)]
    records.insert(5, records[2])  # a duplicate inside the run: not written
    ingest([str(write_jsonl(tmp_path / "a.jsonl", records))], store)
    parts = store.part_files()
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    groups = [
        [pq.ParquetFile(p).metadata.row_group(i).num_rows for i in range(pq.ParquetFile(p).num_row_groups)]
        for p in parts
    ]
    assert groups == [[2, 2], [2, 2], [2]]
    ids = [r["source_id"] for r in store.read(columns=["source_id"]).to_pylist()]
    assert ids == [f"chatcmpl-{i}" for i in range(10)]
    assert store.manifest()["runs"][0]["parts"] == [
        f"transcripts/{parts[0].parent.name}/{p.name}" for p in parts
    ]


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A line for each call of JoinedPool.start (which starts no process here)."""
    from cotlens.runtime.workers import JoinedPool

    started: list[str] = []
    monkeypatch.setattr(JoinedPool, "start", lambda self: started.append("started"))
    return started


def test_workers_start_for_new_transcripts_of_lines_only(tmp_path: Path, starts: list[str]) -> None:
    lines = write_jsonl(tmp_path / "a.jsonl", [chat(1), chat(2)])
    more = write_jsonl(tmp_path / "c.jsonl", [chat(1), chat(5)])
    document = tmp_path / "b.json"
    document.write_bytes(orjson.dumps([chat(3), chat(4)]))
    store = Store(tmp_path / "store")
    runs = []
    for path in (lines, lines, document, more):  # into an empty store; a re-ingest; a document; new lines
        starts.clear()
        result = ingest([str(path)], store, IngestOptions(jobs=2))
        runs.append((result.totals["added"], result.totals["duplicate"], len(starts)))
    # Into an empty store at once (and again at its first chunk: start() is idempotent); else at the first chunk
    # of lines with new transcripts.
    assert runs == [(2, 0, 2), (0, 2, 0), (2, 0, 0), (1, 1, 1)]


def test_a_large_re_ingest_starts_its_workers_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts: list[str]
) -> None:
    """From 4x POOL_MIN_BYTES, parsing alone repays the workers: a re-ingest that large shares its chunks too."""
    lines = write_jsonl(tmp_path / "a.jsonl", [chat(1), chat(2)])
    store = Store(tmp_path / "store")
    ingest([str(lines)], store, IngestOptions(jobs=2))
    runs = []
    for size in (lines.stat().st_size, lines.stat().st_size // 4):  # the input is under 4x, then at least 4x
        monkeypatch.setattr(ingest_module, "POOL_MIN_BYTES", size)
        starts.clear()
        result = ingest([str(lines)], store, IngestOptions(jobs=2))
        runs.append((result.totals["duplicate"], len(starts)))
    assert runs == [(2, 0), (2, 1)]


def test_a_block_is_cut_into_chunks_after_newlines_keeping_line_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ingest_module, "CHUNK_BYTES", 10)
    data = b"aaaa\nbbbbbbbbbbbbbbbb\n\ncc\ndd\neeeeeeeeee\nf"  # 41 bytes: 4 parts, cut from 10, 20 and 30 bytes on
    parts = list(ingest_module._split(sources.LineBlock(data, 7)))
    assert [(p.data, p.first_lineno) for p in parts] == [
        (b"aaaa\nbbbbbbbbbbbbbbbb\n", 7),  # a line across a cut stays whole
        (b"\n", 9),
        (b"cc\ndd\neeeeeeeeee\n", 10),
        (b"f", 13),
    ]
    assert b"".join(p.data for p in parts) == data
    whole = sources.LineBlock(b"14 bytes long\n", 1)  # rounds to one part
    assert list(ingest_module._split(whole)) == [whole]
    one_line = sources.LineBlock(b"x" * 40 + b"\n", 1)
    assert list(ingest_module._split(one_line)) == [one_line]
