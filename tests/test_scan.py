"""Reading stored row groups (cotlens.scan)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cotlens.ingest import ingest
from cotlens.store import Store
from tests.helpers import chat, write_jsonl

# Many small row groups read by four threads at once, through the scan's own reader: each thread must have its
# own Parquet reader (one shared between threads failed with "ReadRangeCache did not find matching cache entry",
# crashed the interpreter or hung). In a process of its own, so that a crash or a hang fails only this test.
READERS = """
import sys
from concurrent.futures import ThreadPoolExecutor
from cotlens.scan import Selection, read_row_group
from cotlens.store import Store
[part] = Store(sys.argv[1]).part_files()
groups = int(sys.argv[2])
def read(i):
    return read_row_group(str(part), i % groups, ("reasoning", "answer", "model"), Selection()).num_rows
with ThreadPoolExecutor(4) as pool:
    print(sum(pool.map(read, range(2000))))
"""


def test_threads_scanning_one_part_each_read_it_whole(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cotlens.store.ROW_GROUP_ROWS", 64)
    ingest([str(write_jsonl(tmp_path / "a.jsonl", [chat(i) for i in range(1000)]))], store)
    groups = -(-1000 // 64)
    done = subprocess.run(
        [sys.executable, "-c", READERS, str(store.root), str(groups)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # 2000 reads cycle through the row groups: 125 full rounds of 16, each round 1000 rows.
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{2000 // groups * 1000}\n", "")
