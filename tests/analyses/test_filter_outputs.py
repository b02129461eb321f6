"""`filter --out` (issue 13 case 11): outputs that cannot be written as asked are refused before anything is
written, and a run whose writing fails part-way leaves no output at all."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

import cotlens.render.exports
from cotlens.cli import app
from cotlens.ingest import ingest
from cotlens.store import Store
from tests.helpers import chat, write_jsonl

runner = CliRunner()
# Short reasoning fails `tokens > 5`, long reasoning passes it: both outputs get rows.
WHERE = ["--where", "tokens > 5"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("filter-outputs")
    records = [
        chat(i, reasoning="Hmm." if i % 2 else "Let me think about this carefully, step by step.")
        for i in range(6)
    ]
    store = Store(root / "store")
    ingest([str(write_jsonl(root / "in.jsonl", records))], store)
    return store


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


def listing(*roots: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def work(tmp_path: Path, small: Store) -> Path:
    (tmp_path / "a-directory").mkdir()
    return tmp_path


REFUSALS = {
    "same file": (["--out", "{w}/x.jsonl", "--exclusions", "{w}/x.jsonl"], "same file"),
    "same file by another name": (
        ["--out", "{w}/x.jsonl", "--exclusions", "{w}/a-directory/../x.jsonl"],
        "same file",
    ),
    "a directory": (["--out", "{w}/a-directory"], "is a directory"),
    "exclusions a directory": (["--out", "{w}/x.jsonl", "--exclusions", "{w}/a-directory"], "is a directory"),
    "a missing directory": (["--out", "{w}/missing/x.jsonl"], "no directory"),
    "exclusions in a missing directory": (
        ["--out", "{w}/x.jsonl", "--exclusions", "{w}/no/x.jsonl"],
        "no directory",
    ),
    "the manifest, even with --force": (["--out", "{s}/manifest.json", "--force"], "inside the store"),
    "a run directory": (["--out", "{run}/part-00009.parquet"], "inside the store"),
    "a part file, with --force": (["--out", "{part}", "--force"], "inside the store"),
    "the store itself": (["--out", "{s}", "--force"], "inside the store"),
    "exclusions in the store": (
        ["--out", "{w}/x.jsonl", "--exclusions", "{s}/rejects.jsonl"],
        "inside the store",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_case_11_filter_out_refusals_write_nothing(small: Store, work: Path, case: str) -> None:
    args, message = REFUSALS[case]
    part = small.part_files()[0]
    values = {"w": str(work), "s": str(small.root), "run": str(part.parent), "part": str(part)}
    before = listing(work, small.root)
    result = run("filter", "--store", str(small.root), *WHERE, *(a.format(**values) for a in args))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("cotlens: usage error:") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert listing(work, small.root) == before


def test_case_11_a_symlink_into_the_store_is_inside_it(small: Store, work: Path) -> None:
    (work / "link").symlink_to(small.root)
    result = run("filter", "--store", str(small.root), *WHERE, "--out", str(work / "link" / "x.jsonl"))
    assert result.exit_code == 2 and "inside the store" in result.stderr


def fail_exclusions(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cotlens.render.exports, "_write_exclusions", full)


def fail_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cotlens.render.exports._JsonLines, "write", full)
    monkeypatch.setattr(cotlens.render.exports._Parquet, "write", full)


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
@pytest.mark.parametrize("inject", [fail_exclusions, fail_kept])
def test_case_11_when_any_output_fails_nothing_is_written(
    small: Store, work: Path, monkeypatch: pytest.MonkeyPatch, inject: Any, suffix: str
) -> None:
    inject(monkeypatch)
    before = listing(work)
    result = run("filter", "--store", str(small.root), *WHERE, "--out", str(work / f"kept.{suffix}"))
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        "cotlens: error: cannot write the output: No space left on device; nothing was written"
    )
    assert listing(work) == before  # neither output, no staged file


def test_case_11_a_parquet_file_arrow_cannot_write_is_said_in_the_systems_words(
    small: Store, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrow writes the file by its path itself: a full disk, met there, is its error, not Python's.
    full = cotlens.render.exports._parquet_writer
    monkeypatch.setattr(cotlens.render.exports, "_parquet_writer", lambda sink: full("/dev/full"))
    before = listing(work)
    result = run("filter", "--store", str(small.root), *WHERE, "--out", str(work / "kept.parquet"))
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        "cotlens: error: cannot write the output: No space left on device; nothing was written"
    )
    assert listing(work) == before


def test_a_parquet_file_named_like_a_uri_is_a_local_file(
    small: Store, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(work)
    result = run("filter", "--store", str(small.root), *WHERE, "--out", "s3:kept #1%20.parquet")
    assert result.exit_code == 0, result.output
    assert ds.dataset(work / "s3:kept #1%20.parquet", format="parquet").count_rows() == 3


def test_case_11_both_outputs_land_together(small: Store, work: Path) -> None:
    result = run("filter", "--store", str(small.root), *WHERE, "--out", str(work / "kept.jsonl"))
    assert result.exit_code == 0, result.output
    assert len((work / "kept.jsonl").read_bytes().splitlines()) == 3
    assert len((work / "kept.jsonl.exclusions.jsonl").read_bytes().splitlines()) == 3
    assert sorted(p.name for p in work.iterdir()) == [
        "a-directory",
        "kept.jsonl",
        "kept.jsonl.exclusions.jsonl",
    ]


def test_a_device_output_is_written_to_not_replaced(small: Store) -> None:
    result = run("filter", "--store", str(small.root), *WHERE, "--out", os.devnull)
    assert result.exit_code == 0, result.output
    assert Path(os.devnull).is_char_device()
    assert not Path(f"{os.devnull}.exclusions.jsonl").exists()  # no default exclusions file beside a device


def parts(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_a_directory_output_is_new_empty_or_a_former_one_replaced_with_force(
    small: Store, work: Path
) -> None:
    base = ["filter", "--store", str(small.root), *WHERE]
    (work / "empty").mkdir()
    assert run(*base, "--out", f"{work}/empty/").exit_code == 0
    assert ds.dataset(work / "empty", format="parquet").count_rows() == 3
    again = run(*base, "--out", f"{work}/empty/")
    assert again.exit_code == 2 and "exists: give --force" in again.stderr
    (work / "empty" / "part-000099.parquet").write_bytes(b"a former output's extra part")
    assert run(*base, "--out", f"{work}/empty/", "--force").exit_code == 0
    assert "part-000099.parquet" not in parts(work / "empty")  # replaced whole, not merged
    assert not [p for p in work.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


DIRECTORY_REFUSALS = {
    "other files in it, even with --force": ("mine/", "holds other files"),
    "a file": ("x.jsonl/", "not a directory"),
    "in a missing directory": ("missing/out/", "no directory"),
    "exclusions as a directory": ("out/ --exclusions {w}/ex/", "is a directory"),
}


@pytest.mark.parametrize("case", list(DIRECTORY_REFUSALS))
def test_directory_output_refusals_write_nothing(small: Store, work: Path, case: str) -> None:
    (work / "mine").mkdir()
    (work / "mine" / "notes.txt").write_text("keep me")
    (work / "x.jsonl").write_text("keep me")
    out, message = DIRECTORY_REFUSALS[case]
    before = listing(work)
    args = [a.format(w=work) for a in f"{work}/{out}".split()]
    result = run("filter", "--store", str(small.root), *WHERE, "--force", "--out", *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert listing(work) == before and sorted(p.name for p in work.iterdir()) == [
        "a-directory",
        "mine",
        "x.jsonl",
    ]


def test_original_records_are_not_written_to_a_directory(small: Store, work: Path) -> None:
    result = run("filter", "--store", str(small.root), *WHERE, "--original", "--out", f"{work}/out/")
    assert result.exit_code == 2 and "--original writes JSON Lines" in result.stderr
    assert not (work / "out").exists()


def test_a_directory_output_that_fails_part_way_leaves_nothing(
    small: Store, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cotlens.render.exports, "_write_part", full)
    (work / "former").mkdir()
    (work / "former" / "part-000000.parquet").write_bytes(b"a former output")
    before = listing(work)
    result = run("filter", "--store", str(small.root), *WHERE, "--force", "--out", f"{work}/former/")
    assert result.exit_code == 1, result.output
    assert "No space left on device; nothing was written" in result.stderr
    assert listing(work) == before and parts(work) == ["a-directory", "former"]


def test_a_directory_output_never_replaces_the_current_directory(
    small: Store, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = work / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for out in ("./", "../", "/"):
        result = run("filter", "--store", str(small.root), *WHERE, "--force", "--out", out)
        assert result.exit_code == 2 and "holds the current directory" in result.stderr, result.stderr
    assert parts(here) == [] and parts(work) == ["a-directory", "here"]


def test_parquet_output_holds_the_kept_rows_as_stored_with_dictionaries_only_where_strings_repeat(
    small: Store, work: Path
) -> None:
    import pyarrow.parquet as pq

    result = run("filter", "--store", str(small.root), *WHERE, "--out", str(work / "kept.parquet"))
    assert result.exit_code == 0, result.output
    kept = pq.read_table(work / "kept.parquet")
    stored = small.read()
    ids = sorted(kept["transcript_id"].to_pylist())
    assert len(ids) == 3
    assert kept.schema.equals(stored.schema)
    rows = {r["transcript_id"]: r for r in stored.to_pylist()}
    assert all(rows[r["transcript_id"]] == r for r in kept.to_pylist())
    chunks = pq.ParquetFile(work / "kept.parquet").metadata.row_group(0)
    encodings = {
        chunks.column(i).path_in_schema: chunks.column(i).encodings for i in range(chunks.num_columns)
    }
    assert "RLE_DICTIONARY" in encodings["model"]
    for plain in ("reasoning", "transcript_id", "reasoning_chars"):
        assert "RLE_DICTIONARY" not in encodings[plain], plain
