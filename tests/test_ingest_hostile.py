"""Hostile input at ingest (issue 13, cases 1-9 and the ingest-side weaker spots): nothing lost, nothing forged,
nothing left running. Each test is named after its case."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import zipfile
import zlib
from pathlib import Path

import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cotlens.ingest import IngestOptions, ingest
from cotlens.limits import Limits
from cotlens.parse import legacy_transcript_id
from cotlens.store import Store
from tests.helpers import chat, write_jsonl


def rejects(store: Store) -> list[dict]:
    return [
        json.loads(line)
        for f in sorted((store.root / "rejects").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]


def flat(**fields: object) -> dict[str, object]:
    """A flat reasoning-content record."""
    return {"model": "m", "reasoning_content": "R", "content": "A", **fields}


# Case 1: an integer its column cannot hold is that record's reject, never the whole run's crash.


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (
            {**chat(5), "usage": {"completion_tokens_details": {"reasoning_tokens": 2**63}}},
            "reasoning_tokens 9223372036854775808 is out of range (at most 9223372036854775807)",
        ),
        (
            {**chat(5), "usage": {"completion_tokens": 2**64 - 1}},
            "output_tokens 18446744073709551615 is out of range (at most 9223372036854775807)",
        ),
    ],
)
def test_case1_int64_overflow_rejects_only_that_record(
    tmp_path: Path, store: Store, record: dict[str, object], reason: str
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1), record, chat(2)])
    result = ingest([str(path)], store)
    assert result.totals == {"records": 3, "rejected": 1, "transcripts": 2, "added": 2, "duplicate": 0}
    [reject] = rejects(store)
    assert (reject["source_locator"], reject["reason"]) == ("line 2", reason)


def test_case1_a_value_no_check_foresaw_rejects_only_its_record(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cotlens.parse

    monkeypatch.setattr(cotlens.parse, "check_ranges", lambda t: None)  # the backstop alone
    big = {**chat(5), "usage": {"completion_tokens_details": {"reasoning_tokens": 2**63}}}
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1), big, chat(2)])
    result = ingest([str(path)], store)
    assert (result.totals["added"], result.totals["rejected"]) == (2, 1)
    [reject] = rejects(store)
    assert reject["source_locator"] == "line 2"
    assert reject["reason"].startswith("a value out of its column's range: ")
    assert reject["excerpt"] == orjson.dumps(big).decode()


def inspect_sample(epoch: int, usage: dict[str, object] | None = None) -> dict[str, object]:
    return {
        "id": "s1",
        "epoch": epoch,
        "input": "Q",
        "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],
        "output": {"model": "m", "choices": []},
        "model_usage": usage or {},
    }


def test_case1_inspect_epoch_and_summed_usage_out_of_range(tmp_path: Path, store: Store) -> None:
    big = {"reasoning_tokens": 2**62 + 1}
    log = {
        "eval": {"model": "m", "task": "t"},
        "status": "success",
        "samples": [
            inspect_sample(1),
            inspect_sample(2**31),
            inspect_sample(3, {"a": big, "b": big}),  # each fits, the sum does not
        ],
    }
    (tmp_path / "log.json").write_bytes(orjson.dumps(log))
    result = ingest([str(tmp_path / "log.json")], store)
    assert (result.totals["added"], result.totals["rejected"]) == (1, 2)
    assert [r["reason"] for r in rejects(store)] == [
        "epoch 2147483648 is out of range (at most 2147483647)",
        f"reasoning_tokens {2**63 + 2} is out of range (at most 9223372036854775807)",
    ]


# Cases 2 and 3: a truncated or damaged compressed stream is an input error, always; every complete line
# before the damage lands. (Measurements deferred: only reading is tested.)

UNMEASURED = IngestOptions(measure=False)

LINES = [orjson.dumps(chat(i, reasoning=f"step {i} " * (i % 97))) + b"\n" for i in range(1200)]
DATA = b"".join(LINES)
COMPRESS = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": zstandard.ZstdCompressor(write_checksum=True).compress,
}


def decodable_prefix(suffix: str, packed: bytes) -> bytes:
    """What the codec itself can decode of a damaged stream, read incrementally."""
    decoder = zlib.decompressobj(wbits=31) if suffix == "gz" else lzma.LZMADecompressor()
    out = b""
    for i in range(len(packed)):
        try:
            out += decoder.decompress(packed[i : i + 1])
        except (zlib.error, lzma.LZMAError):
            break
    return out


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_case2_truncated_compressed_input_is_an_input_error(tmp_path: Path, suffix: str) -> None:
    from typer.testing import CliRunner

    from cotlens.cli import app

    packed = COMPRESS[suffix](DATA)
    path = tmp_path / f"a.jsonl.{suffix}"
    path.write_bytes(packed[: len(packed) * 3 // 4])
    store = Store(tmp_path / f"store-{suffix}")
    result = ingest([str(path)], store, UNMEASURED)
    name = {"gz": "gzip", "bz2": "bzip2", "xz": "xz", "zst": "zstd"}[suffix]
    assert result.inputs[0].error == f"truncated {name} data: the stream ends before its end marker"
    assert result.totals["added"] < len(LINES)
    cli = CliRunner().invoke(
        app, ["ingest", str(path), "--store", str(tmp_path / "s2"), "--strict", "--defer-measure"]
    )
    assert cli.exit_code == 1
    assert "truncated" in cli.output


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_case2_compressed_input_read_whole_is_no_error(tmp_path: Path, store: Store, suffix: str) -> None:
    path = tmp_path / f"a.jsonl.{suffix}"
    path.write_bytes(COMPRESS[suffix](DATA[: len(DATA) // 2]) + COMPRESS[suffix](DATA[len(DATA) // 2 :]))
    result = ingest([str(path)], store, UNMEASURED)
    assert not result.failed_inputs
    assert result.totals["added"] == len(LINES)


@pytest.mark.parametrize("suffix", ["gz", "xz"])
@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_case3_every_complete_line_before_the_damage_lands(
    tmp_path: Path, store: Store, suffix: str, damage: str
) -> None:
    packed = bytearray(COMPRESS[suffix](DATA))
    if damage == "truncated":
        del packed[len(packed) * 2 // 3 :]
    else:
        packed[len(packed) * 2 // 3] ^= 0xFF
    path = tmp_path / f"a.jsonl.{suffix}"
    path.write_bytes(packed)
    prefix = decodable_prefix(suffix, bytes(packed))
    whole_lines = prefix[: prefix.rfind(b"\n") + 1].count(b"\n")
    result = ingest([str(path)], store, UNMEASURED)
    assert result.inputs[0].error is not None
    # gzip: every line; xz: a step that meets the damage loses its output, at most 64 KiB
    lost = 0 if suffix == "gz" else prefix[-(64 << 10) :].count(b"\n")
    assert whole_lines - lost <= result.totals["records"] <= whole_lines
    totals = result.totals
    assert totals["added"] + totals["duplicate"] + totals["rejected"] == totals["records"]
    if damage == "truncated":
        assert result.totals["added"] == result.totals["records"]
    # (A flipped byte in deflate data may decode to garbage before the check fails: those lines are rejects.)


def test_case3_zstd_damage_keeps_every_block_before_it(tmp_path: Path, store: Store) -> None:
    packed = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(DATA))
    packed[len(packed) // 2] ^= 0xFF
    path = tmp_path / "a.jsonl.zst"
    path.write_bytes(packed)
    result = ingest([str(path)], store, UNMEASURED)
    assert result.inputs[0].error is not None and result.inputs[0].error.startswith("corrupt zstd data")
    # Blocks decode to at most 128 KiB: all lines before the damaged block's are there.
    assert result.totals["added"] >= (len(DATA) // 2 - (128 << 10)) // (len(DATA) // len(LINES)) // 2


# Case 4: no two distinct records share an id.


def test_case4_crafted_id_collisions_are_distinct(tmp_path: Path, store: Store) -> None:
    crafted = [
        flat(prompt="P\x1fQ", reasoning_content="R"),
        flat(prompt="P", reasoning_content="Q\x1fR"),
        flat(content="\x00"),
        flat(content=None),
        flat(prompt="\x00", content="A"),
        flat(content="A"),
    ]
    path = write_jsonl(tmp_path / "a.jsonl", crafted)
    result = ingest([str(path)], store)
    assert (result.totals["added"], result.totals["duplicate"]) == (6, 0)
    assert len(set(store.read(columns=["transcript_id"]).column(0).to_pylist())) == 6
    assert Store(store.root).manifest()["id_scheme"] == 2
    again = ingest([str(path)], store)
    assert (again.totals["added"], again.totals["duplicate"]) == (0, 6)


def test_case4_a_store_of_the_old_id_scheme_still_dedupes(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cotlens.parse

    path = write_jsonl(tmp_path / "a.jsonl", [chat(1), chat(2), flat(prompt="P\x1fQ", reasoning_content="R")])
    with monkeypatch.context() as m:  # a store made before id scheme 2
        m.setattr(cotlens.parse, "transcript_id", legacy_transcript_id)
        ingest([str(path)], store)
    manifest = store.manifest()
    del manifest["id_scheme"]
    store._write_manifest(manifest)
    result = ingest([str(path)], store)
    assert (result.totals["added"], result.totals["duplicate"]) == (0, 3)
    # New transcripts get new-scheme ids; the store keeps saying it holds old ones.
    fresh = write_jsonl(tmp_path / "b.jsonl", [chat(3), chat(3)])
    result = ingest([str(fresh)], store)
    assert (result.totals["added"], result.totals["duplicate"]) == (1, 1)
    assert "id_scheme" not in store.manifest()


# Case 5: a null in a {"results": [...]} list is that item's reject, as in a bare array.


def test_case5_null_inside_a_results_list_is_handled_item_by_item(tmp_path: Path, store: Store) -> None:
    (tmp_path / "obj.json").write_bytes(orjson.dumps({"results": [chat(1), None, chat(2), "x"]}))
    (tmp_path / "arr.json").write_bytes(orjson.dumps([chat(3), None, chat(4), "x"]))
    result = ingest([str(tmp_path / "obj.json"), str(tmp_path / "arr.json")], store)
    assert not result.failed_inputs
    assert [(s.added, s.rejected) for s in result.inputs] == [(2, 2), (2, 2)]
    assert [r["source_locator"] for r in rejects(store)] == ["results[1]", "results[3]", "[1]", "[3]"]


# Case 6: a file name that is not UTF-8.


def test_case6_non_utf8_file_name_is_read_and_shown_escaped(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsdecode(b"bad\xff\x1b[31m.jsonl")
    write_jsonl(folder / name, [chat(1), b"{broken\n"])
    result = ingest([str(folder)], store)
    assert (result.totals["added"], result.totals["rejected"]) == (1, 1)
    shown = str(folder / "bad\\xff\x1b[31m.jsonl")
    assert result.inputs[0].path == shown
    assert store.read(columns=["source_path"]).column(0).to_pylist() == [shown]
    assert rejects(store)[0]["source_path"] == shown


# Case 7: a directory walk never enters a cotlens store.


def test_case7_a_walk_never_enters_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "a.jsonl", [chat(1), b"{broken\n"])
    for store in (Store("cotlens-store"), Store("elsewhere/my-store")):
        for _ in range(3):
            result = ingest(["."], store)
            assert [s.path for s in result.inputs] == ["a.jsonl"]
            assert not result.failed_inputs
        assert len(rejects(store)) == 3  # one per run, never the store's own files


# Case 8: size limits; what exceeds them is rejected with its size, memory stays bounded.


def test_case8_a_line_over_the_record_limit_is_rejected_with_its_size(tmp_path: Path, store: Store) -> None:
    big = orjson.dumps(chat(2, reasoning="x" * 300_000))
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join([orjson.dumps(chat(1)), big, orjson.dumps(chat(3))]) + b"\n"))
    options = IngestOptions(limits=Limits(record_bytes=100_000))
    result = ingest([str(path)], store, options)
    assert result.totals == {"records": 3, "rejected": 1, "transcripts": 2, "added": 2, "duplicate": 0}
    [reject] = rejects(store)
    assert reject["source_locator"] == "line 2"
    assert reject["bytes"] == len(big)
    assert reject["reason"] == (
        f"a record of {len(big):,} bytes is over the per-record limit of 100,000 bytes "
        "(raise it with --max-record-mb)"
    )
    assert reject["excerpt"] == big[:2000].decode()


def test_case8_an_archive_member_over_the_limit_is_rejected_unread(tmp_path: Path, store: Store) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("header.json", orjson.dumps({"eval": {"model": "m", "task": "t"}}))
        z.writestr("samples/1_epoch_1.json", orjson.dumps(inspect_sample(1)))
        z.writestr("samples/2_epoch_1.json", b" " * 5_000_000)
    (tmp_path / "log.eval").write_bytes(buf.getvalue())
    result = ingest([str(tmp_path / "log.eval")], store, IngestOptions(limits=Limits(record_bytes=1_000_000)))
    assert (result.totals["added"], result.totals["rejected"]) == (1, 1)
    [reject] = rejects(store)
    assert (reject["source_locator"], reject["bytes"]) == ("samples/2_epoch_1.json", 5_000_000)
    assert reject["reason"].startswith("an archive member of 5,000,000 bytes is over the per-record limit")


def test_case8_a_document_over_the_limit_is_an_input_error(tmp_path: Path, store: Store) -> None:
    document = orjson.dumps({"results": [chat(i) for i in range(2000)]})
    (tmp_path / "a.json.zst").write_bytes(zstandard.ZstdCompressor().compress(document))
    options = IngestOptions(limits=Limits(document_bytes=100_000))
    result = ingest([str(tmp_path / "a.json.zst")], store, options)
    assert result.inputs[0].error == (
        f"a JSON document of {len(document):,} bytes is over the limit of 100,000 bytes "
        "(raise it with --max-document-mb)"
    )


def test_case8_a_one_line_input_over_the_record_limit_is_rejected(tmp_path: Path, store: Store) -> None:
    line = orjson.dumps(chat(1, reasoning="x" * 300_000))
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(line + b"\n"))
    # A store is made only when some input gives a transcript.
    good = write_jsonl(tmp_path / "b.jsonl", [chat(2)])
    inputs = [str(tmp_path / "a.jsonl.gz"), str(good)]
    result = ingest(inputs, store, IngestOptions(limits=Limits(record_bytes=100_000)))
    assert (result.totals["records"], result.totals["rejected"]) == (2, 1)
    assert rejects(store)[0]["bytes"] == len(line) + 1


# Case 9: workers exit when their parent dies; SIGTERM cleans up like Ctrl-C.

POOL_SCRIPT = """
import multiprocessing.forkserver, os, sys, time
from cotlens.runtime.workers import worker_pool
with worker_pool(2) as pool:
    pids = {f.result() for f in [pool.submit(os.getpid) for _ in range(8)]}
    pids.add(multiprocessing.forkserver._forkserver._forkserver_pid)
    print(" ".join(map(str, sorted(pids))), flush=True)
    time.sleep(120)
"""


def running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.parametrize("signum", [9, 15])
def test_case9_workers_and_server_exit_when_the_parent_is_killed(signum: int) -> None:
    import subprocess
    import sys
    import time

    parent = subprocess.Popen([sys.executable, "-c", POOL_SCRIPT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    children = [int(p) for p in parent.stdout.readline().split()]
    assert len(children) >= 2 and all(running(pid) for pid in children)
    parent.send_signal(signum)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while any(running(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in children if running(pid)]


def test_case9_sigterm_discards_the_run_like_ctrl_c(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    store = tmp_path / "store"
    cotlens = Path(sys.executable).parent / "cotlens"
    run = subprocess.Popen(
        [str(cotlens), "ingest", "-", "--store", str(store)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert run.stdin is not None
    run.stdin.write(orjson.dumps(chat(1)).decode() + "\n" + orjson.dumps(chat(2)).decode() + "\n")
    run.stdin.flush()
    deadline = time.monotonic() + 20
    while not list((store / ".staging").glob("*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list((store / ".staging").glob("*"))  # the run has begun
    run.terminate()
    _, err = run.communicate(timeout=20)
    assert run.returncode == 130
    assert err.strip().splitlines()[-1] == "cotlens: interrupted"
    assert not list((store / ".staging").glob("*"))
    assert not (store / "manifest.json").exists()


# Weaker spots on the ingest side.


def test_weak_prompt_that_is_an_object_is_kept_as_json_text(tmp_path: Path, store: Store) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [flat(prompt={"q": "2+2?", "n": [1, None]}), flat(prompt=7)])
    result = ingest([str(path)], store)
    assert result.totals["added"] == 2
    rows = store.read(columns=["prompt", "repairs"]).to_pylist()
    assert rows == [
        {"prompt": '{"q":"2+2?","n":[1,null]}', "repairs": ["prompt-as-json"]},
        {"prompt": "7", "repairs": ["prompt-as-json"]},
    ]


def test_weak_model_option_rescues_a_model_field_of_the_wrong_type(tmp_path: Path, store: Store) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{**chat(1), "model": 17}, flat(model=["x"])])
    without = ingest([str(path)], Store(tmp_path / "other"))
    assert without.totals["rejected"] == 2
    result = ingest([str(path)], store, IngestOptions(model="given"))
    assert (result.totals["added"], result.totals["rejected"]) == (2, 0)
    assert store.read(columns=["model"]).column(0).to_pylist() == ["given", "given"]


def test_weak_symlinks_in_a_walk_are_reported(tmp_path: Path, store: Store) -> None:
    inputs, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    inputs.mkdir()
    elsewhere.mkdir()
    write_jsonl(inputs / "a.jsonl", [chat(1)])
    write_jsonl(elsewhere / "b.jsonl", [chat(2)])
    (inputs / "linked").symlink_to(elsewhere)
    (inputs / "gone.jsonl").symlink_to(tmp_path / "missing.jsonl")
    (inputs / "c.jsonl").symlink_to(elsewhere / "b.jsonl")  # a symlinked file is read
    result = ingest([str(inputs)], store)
    assert [Path(s.path).name for s in result.inputs] == ["a.jsonl", "c.jsonl"]
    assert result.warnings == [
        f"{inputs / 'linked'} is a symlinked folder: not followed",
        f"{inputs / 'gone.jsonl'} is a dangling symlink: skipped",
    ]


def test_weak_map_path_that_matches_nothing_rejects_naming_it(tmp_path: Path, store: Store) -> None:
    from typer.testing import CliRunner

    from cotlens.cli import app

    path = write_jsonl(tmp_path / "a.jsonl", [{"model": "m", "out": "A"}, {"model": "m", "thinking": None}])
    cli = CliRunner().invoke(
        app,
        [
            "ingest",
            str(path),
            "--store",
            str(store.root),
            "--map",
            "reasoning=thinking",
            "--map",
            "model=model",
            "--strict",
        ],
    )
    assert cli.exit_code == 3
    [reject] = rejects(store)
    assert reject["source_locator"] == "line 1"
    assert (
        reject["reason"]
        == "the mapping's reasoning path 'thinking' matches nothing in this record (keys: model, out)"
    )


# The fuzz test: mixed good and bad records, compressed or not, whole or cut short.

# Texts built to collide under a join-based id: separators, NULs, digits and colons of length prefixes.
ATTACK = st.text(alphabet="ab\x1f\x00-:01 ", max_size=6)
GOOD = st.builds(
    lambda p, r, a: {"model": "m", "prompt": p, "reasoning_content": r, "content": a},
    st.none() | ATTACK,
    ATTACK,
    st.none() | ATTACK,
)
BAD = st.sampled_from(
    [
        b"{",
        b"null",
        b"[1, 2",
        b'"text"',
        b'{"model": "m", "reasoning_content": 5}',
        b'{"model": 5, "reasoning_content": "r"}',
        orjson.dumps({**chat(1), "usage": {"completion_tokens_details": {"reasoning_tokens": 2**63}}}),
        json.dumps({**chat(2), "usage": {"completion_tokens": 2**64 + 5}}).encode(),
        orjson.dumps(flat(reasoning_content="x" * 5000)),  # over the test's record limit
        b"\xff\xfe{}",
    ]
)
CODECS = [lambda b: b, *COMPRESS.values()]


def identity(record: dict[str, object]) -> tuple[object, ...]:
    """What a flat record's transcript is, as cotlens normalizes it: texts stripped, empty ones null."""
    return tuple(
        (v.strip() or None) if isinstance(v, str) else v
        for v in (record["prompt"], record["reasoning_content"], record["content"])
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    lines=st.lists(st.one_of(GOOD, BAD), min_size=1, max_size=30),
    codec=st.sampled_from(range(len(CODECS))),
    cut=st.none() | st.floats(0.1, 0.95),
)
def test_fuzz_every_record_is_accounted_for_and_no_two_share_an_id(
    lines: list[dict[str, object] | bytes], codec: int, cut: float | None
) -> None:
    import tempfile

    data = b"".join((x if isinstance(x, bytes) else orjson.dumps(x)) + b"\n" for x in lines)
    packed = CODECS[codec](data)
    damaged = cut is not None and codec != 0  # (a plain file cut short is just another file)
    if damaged:
        packed = packed[: int(len(packed) * cut)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        path.write_bytes(packed)
        store = Store(Path(tmp) / "store")
        result = ingest([str(path)], store, IngestOptions(measure=False, limits=Limits(record_bytes=4096)))
        totals = result.totals
        assert totals["added"] + totals["duplicate"] + totals["rejected"] == totals["records"]
        assert totals["records"] <= len(lines)
        if damaged:
            assert result.failed_inputs
        if not result.failed_inputs:
            assert totals["records"] == len(lines)
            good = [identity(x) for x in lines if isinstance(x, dict)]
            assert totals["added"] == len(set(good))  # distinct records, distinct ids; the same, one
        ids = (
            store.read(columns=["transcript_id"]).column(0).to_pylist()
            if store.exists() and store.part_files()
            else []
        )
        assert len(ids) == len(set(ids)) == totals["added"]


def test_case8_limits_are_cli_options(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cotlens.cli import app

    path = write_jsonl(tmp_path / "a.jsonl", [chat(1), chat(2, reasoning="x" * 200_000)])
    args = ["ingest", str(path), "--store", str(tmp_path / "s"), "--defer-measure", "--strict", "--json"]
    cli = CliRunner().invoke(app, [*args, "--max-record-mb", "0.1"])
    assert cli.exit_code == 3
    assert json.loads(cli.stdout)["totals"]["rejected"] == 1
    cli = CliRunner().invoke(app, [*args, "--max-record-mb", "1"])
    assert cli.exit_code == 0
    assert json.loads(cli.stdout)["totals"]["added"] == 1  # the first line is a duplicate by now
