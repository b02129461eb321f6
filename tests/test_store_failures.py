"""When the store cannot be written (read-only, full disk) or read (a damaged part, a file where the store should
be), every command says why in one line and the store is left exactly as it was; an ingest that reads nothing
leaves no store behind; what a store writes about hostile input (manifest, rejects) is escaped."""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

import cotlens.intrinsic
import cotlens.parse
import cotlens.store
from cotlens.cli import app
from cotlens.ingest import IngestOptions, ingest
from cotlens.store import Store
from tests.helpers import chat, write_jsonl

runner = CliRunner()
NO_SPACE = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the store with its bytes (the lock file aside: taking turns may create it)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def assert_one_line_error(result: Any, cause: str) -> None:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("cotlens: error:")]
    assert len(errors) == 1 and cause in errors[0], result.stderr
    assert "Traceback" not in result.output and "Error:" not in result.stderr.replace("cotlens: error:", "")


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once, copied for each test: a store holding one run, and a store ingested with --defer-measure."""
    root = tmp_path_factory.mktemp("templates")
    ingest([str(write_jsonl(root / "first.jsonl", [chat(i) for i in range(3)]))], Store(root / "store"))
    ingest(
        [str(write_jsonl(root / "d.jsonl", [chat(i) for i in range(4)]))],
        Store(root / "deferred"),
        IngestOptions(measure=False),
    )
    return root


@pytest.fixture
def filled(tmp_path: Path, templates: Path) -> Store:
    """A store holding one run (first.jsonl), and a second input with new records and a reject."""
    shutil.copytree(templates / "store", tmp_path / "store")
    shutil.copy(templates / "first.jsonl", tmp_path / "first.jsonl")
    write_jsonl(tmp_path / "second.jsonl", [chat(i) for i in range(3, 9)] + [b"{broken\n"])
    return Store(tmp_path / "store")


@pytest.fixture
def deferred(tmp_path: Path, templates: Path) -> Store:
    shutil.copytree(templates / "deferred", tmp_path / "deferred")
    return Store(tmp_path / "deferred")


def make_read_only(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The store read-only: by permissions for an ordinary user; root ignores them, so for root every write
    under the store fails as on a read-only file system (EROFS), the way the kernel would."""
    if os.geteuid() != 0:
        paths = [root, *root.rglob("*")]
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(stat.S_IMODE(modes[p]) & ~0o222)
        yield
        for p in reversed(paths):
            p.chmod(stat.S_IMODE(modes[p]))
        return
    inside = str(root.resolve())

    def refused(path: Any) -> bool:
        return isinstance(path, str | os.PathLike) and os.path.abspath(os.fspath(path)).startswith(inside)

    def read_only_error(path: Any) -> OSError:
        return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    real_open, real_mkdir, real_replace = builtins.open, os.mkdir, os.replace

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if refused(file) and any(c in mode for c in "wax+"):
            raise read_only_error(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if refused(path):
            raise read_only_error(path)
        real_mkdir(path, *args, **kwargs)

    def guarded_replace(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if refused(target):
            raise read_only_error(target)
        real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)
    monkeypatch.setattr(os, "replace", guarded_replace)
    yield


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    cleanups: list[Iterator[None]] = []

    def apply(root: Path) -> None:
        cleanup = make_read_only(root, monkeypatch)
        next(cleanup)
        cleanups.append(cleanup)

    yield apply
    for cleanup in cleanups:
        next(cleanup, None)


def test_case_13_ingest_into_a_read_only_store(filled: Store, read_only: Any) -> None:
    before = snapshot(filled.root)
    read_only(filled.root)
    result = run("ingest", str(filled.root.parent / "second.jsonl"), "--store", str(filled.root))
    assert_one_line_error(result, "store is read-only")
    assert snapshot(filled.root) == before


def test_case_13_measure_of_a_read_only_store(deferred: Store, read_only: Any) -> None:
    before = snapshot(deferred.root)
    read_only(deferred.root)
    assert_one_line_error(run("measure", "--store", str(deferred.root)), "store is read-only")
    assert snapshot(deferred.root) == before


@pytest.mark.parametrize(
    "command", [["rates"], ["langmix"], ["loops"], ["filter", "--dry-run", "--where", "loop"]]
)
def test_case_13_analyses_of_a_read_only_deferred_store(
    deferred: Store, read_only: Any, command: list[str]
) -> None:
    before = snapshot(deferred.root)
    read_only(deferred.root)
    result = run(*command, "--store", str(deferred.root))
    assert_one_line_error(result, "store is read-only")
    assert "cotlens measure" in result.stderr
    assert snapshot(deferred.root) == before


def fail_staging(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: Any) -> None:
        raise NO_SPACE

    monkeypatch.setattr(cotlens.parse, "write_staged", full)


def fail_part(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: Any, table: Any) -> None:
        raise NO_SPACE

    monkeypatch.setattr(cotlens.store.PartWriter, "_write_row_group", full)


def fail_rejects(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: Any, **kwargs: Any) -> bytes:
        raise NO_SPACE

    monkeypatch.setattr(cotlens.store, "json_bytes", full)


def fail_manifest(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Path.write_bytes

    def full(self: Path, data: Any) -> int:
        if self.name in ("manifest.json", ".manifest.json.tmp"):
            raise NO_SPACE
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)


def fail_last_rename(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parts and rejects are renamed into place, then the manifest's replace fails: they go back."""
    real = os.replace

    def full(source: Any, target: Any) -> None:
        if Path(target).name == "manifest.json":
            raise NO_SPACE
        real(source, target)

    monkeypatch.setattr(cotlens.store.os, "replace", full)


@pytest.mark.parametrize("inject", [fail_staging, fail_part, fail_rejects, fail_manifest, fail_last_rename])
def test_case_13_a_full_disk_leaves_the_store_unchanged(
    filled: Store, monkeypatch: pytest.MonkeyPatch, inject: Any
) -> None:
    before = snapshot(filled.root)
    inject(monkeypatch)
    result = run("ingest", str(filled.root.parent / "second.jsonl"), "--store", str(filled.root))
    assert_one_line_error(result, "no space left on device")
    assert snapshot(filled.root) == before
    assert not (filled.root / ".staging").exists()


def test_case_13_a_full_disk_while_measuring_leaves_the_parts_as_they_were(
    deferred: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(deferred.root)

    def full(self: Any, *args: Any, **kwargs: Any) -> None:
        raise NO_SPACE

    monkeypatch.setattr(cotlens.intrinsic.pq.ParquetWriter, "write_table", full)
    assert_one_line_error(run("measure", "--store", str(deferred.root)), "no space left on device")
    assert snapshot(deferred.root) == before


def test_case_13_a_new_store_on_a_full_disk_is_not_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_staging(monkeypatch)
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1)])
    assert_one_line_error(
        run("ingest", str(path), "--store", str(tmp_path / "new")), "no space left on device"
    )
    assert not (tmp_path / "new").exists()


def damage(store: Store, how: str) -> Path:
    part = store.part_files()[0]
    data = bytearray(part.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 3]
    elif how == "footer":
        data[-8:-4] = b"\xff\xff\xff\x7f"  # a footer longer than the file
    else:  # not Parquet at all
        data = bytearray(b"{}\n" * 10)
    part.write_bytes(bytes(data))
    return part


@pytest.mark.parametrize("how", ["truncated", "footer", "text"])
@pytest.mark.parametrize(
    "command",
    [
        ["models"],
        ["rates"],
        ["kwic", "think"],
        ["keywords", "m"],
        ["filter", "--dry-run", "--where", "loop"],
        ["measure"],
    ],
)
def test_a_damaged_part_file_is_a_one_line_error_naming_it(
    filled: Store, how: str, command: list[str]
) -> None:
    part = damage(filled, how)
    result = run(command[0], "--store", str(filled.root), *command[1:])
    assert_one_line_error(result, f"damaged part file {part}")


def test_ingest_into_a_store_with_a_damaged_part_is_a_one_line_error(filled: Store) -> None:
    part = damage(filled, "truncated")
    result = run("ingest", str(filled.root.parent / "second.jsonl"), "--store", str(filled.root))
    assert_one_line_error(result, f"damaged part file {part}")


@pytest.mark.parametrize(
    "command",
    [
        ["ingest", "IN"],
        ["models"],
        ["rates"],
        ["measure"],
        ["kwic", "wait"],
        ["compare", "a", "b"],
        ["keywords", "a"],
    ],
)
def test_a_store_that_is_a_regular_file_is_a_one_line_error(tmp_path: Path, command: list[str]) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [chat(1)])
    args = [str(path) if a == "IN" else a for a in command]
    before = path.read_bytes()
    result = run(*args, "--store", str(path))
    assert_one_line_error(result, "is a file, not a store directory")
    assert path.read_bytes() == before


def test_issue_12_item_8_unreadable_inputs_create_no_store(tmp_path: Path) -> None:
    (tmp_path / "corrupt.jsonl.gz").write_bytes(b"\x1f\x8b\x08garbage")
    (tmp_path / "not-json.json").write_bytes(b"hello world")
    (tmp_path / "garbage.jsonl").write_bytes(b"hello\nworld\n")
    inputs = [
        str(tmp_path / name)
        for name in ("missing.jsonl", "corrupt.jsonl.gz", "not-json.json", "garbage.jsonl")
    ]
    store = tmp_path / "store"
    result = run("ingest", *inputs, "--store", str(store))
    assert result.exit_code == 1
    assert not store.exists()
    assert "no store was created" in result.stderr


def test_issue_12_item_8_an_input_of_rejected_records_only_creates_no_store(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [b"hello\n", b"world\n"])
    result = run("ingest", str(path), "--store", str(tmp_path / "store"))
    assert result.exit_code == 1
    assert "no record could be read" in result.stderr and "2 rejected of 2 records" in result.stderr
    assert not (tmp_path / "store").exists()


def test_issue_12_item_8_an_existing_store_records_the_failed_run(filled: Store) -> None:
    runs = len(filled.manifest()["runs"])
    result = run("ingest", str(filled.root.parent / "missing.jsonl"), "--store", str(filled.root))
    assert result.exit_code == 1
    assert len(filled.manifest()["runs"]) == runs + 1


def test_issue_12_item_8_reingesting_with_new_dataset_or_tags_warns_how_many_kept_old_values(
    filled: Store,
) -> None:
    first = str(filled.root.parent / "first.jsonl")
    result = run("ingest", first, "--store", str(filled.root), "--dataset", "d2", "--tag", "k=v")
    assert result.exit_code == 0, result.output
    assert "cotlens: warning: 3 duplicate transcript(s) keep the dataset and tags" in result.stderr
    quiet = run("ingest", first, "--store", str(filled.root))
    assert "warning" not in quiet.stderr  # no --dataset or --tag: nothing was asked that did not happen
    rows = filled.read(columns=["dataset"]).column(0).to_pylist()
    assert rows == [None, None, None]


HOSTILE = "evil\u202egnp.exe\u009b31m\u2028x"


def test_the_rejects_file_and_manifest_keep_no_raw_bidi_or_c1_character(tmp_path: Path, store: Store) -> None:
    path = write_jsonl(tmp_path / f"{HOSTILE}.jsonl", [chat(1), f'{{"x": "{HOSTILE}"'.encode() + b"\n"])
    ingest([str(path)], store, IngestOptions(dataset=HOSTILE, tags={"k": HOSTILE}))
    rejects = next((store.root / "rejects").glob("*.jsonl")).read_bytes().decode()
    manifest = (store.root / "manifest.json").read_bytes().decode()
    for text in (rejects, manifest):
        assert not any(c in text for c in "\u202e\u009b\u2028"), text
    assert orjson.loads(manifest)["runs"][0]["options"]["dataset"] == HOSTILE
    assert orjson.loads(rejects.splitlines()[0])["source_path"] == str(path)


def test_analyses_of_a_measured_read_only_store_work(filled: Store, read_only: Any) -> None:
    read_only(filled.root)
    for command in (["models"], ["rates"], ["kwic", "think"], ["filter", "--dry-run", "--where", "loop"]):
        result = run(command[0], "--store", str(filled.root), *command[1:])
        assert result.exit_code == 0, (command, result.output)


@pytest.mark.parametrize("content", [b"[]", b'{"runs": 5}', b"not json"])
def test_a_damaged_manifest_is_a_one_line_error(filled: Store, content: bytes) -> None:
    (filled.root / "manifest.json").write_bytes(content)
    result = run("ingest", str(filled.root.parent / "second.jsonl"), "--store", str(filled.root))
    assert_one_line_error(result, "manifest")
