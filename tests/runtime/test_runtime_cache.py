"""The cache kept between runs (runtime/cache.py): bytes under a name and a key, never with COTLENS_DEBUG."""

from __future__ import annotations

from pathlib import Path

import pytest

from cotlens.runtime.cache import cache_path, read_cached, write_cached


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("COTLENS_DEBUG", raising=False)
    return tmp_path


def test_bytes_come_back_under_the_same_key_only(home: Path) -> None:
    key = [b"source \x00 bytes", "3.11.7", 15]
    assert read_cached("tables", key, ".json") is None
    write_cached("tables", key, b'{"a": "\xc3\x9f"}', ".json")
    assert read_cached("tables", key, ".json") == b'{"a": "\xc3\x9f"}'
    assert read_cached("tables", [b"source \x00 bytes", "3.11.8", 15], ".json") is None  # another Python
    assert read_cached("other", key, ".json") is None
    (kept,) = (home / "cotlens").iterdir()
    assert kept == cache_path("tables", key, ".json") and kept.name.startswith("tables-")


def test_debugging_neither_reads_nor_writes(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_cached("tables", ["k"], b"kept")
    monkeypatch.setenv("COTLENS_DEBUG", "1")
    assert read_cached("tables", ["k"]) is None
    write_cached("tables", ["other"], b"new")
    assert not cache_path("tables", ["other"]).exists()


def test_an_unwritable_place_is_no_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.delenv("COTLENS_DEBUG", raising=False)
    write_cached("tables", ["k"], b"kept")
    assert read_cached("tables", ["k"]) is None


def test_fold_builds_its_tables_without_the_cache_when_debugging(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cotlens.measure import fold

    monkeypatch.setenv("COTLENS_DEBUG", "1")
    monkeypatch.setattr(fold, "_tables", [])
    assert fold.char_tables().mapping["ß"] == "ss"
    assert not (home / "cotlens").exists()
