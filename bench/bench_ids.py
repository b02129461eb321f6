"""The memory and time of ingest's duplicate check at N stored ids: cotlens.ids (sorted 16-byte arrays) against the
Python set of hex strings it replaced.

    .venv/bin/python bench/bench_ids.py --ids 1000000 --added 200000

N random ids are written as the store's `transcript_id` column (an Arrow string column, as read from the part files);
each side then loads them and checks a run of --added new ids (plus as many duplicates) in chunks of 1,500, as
ingest's driver does. Memory is the peak of tracemalloc (numpy's and Python's allocations; the Arrow column itself is
not counted, on either side), time is process CPU time.

With --store, instead: the ids written as a part file of a store in a temporary directory, read by
`Store.existing_ids` into `SeenIds` as an ingest does, against the set the code before made of the same column:
the process's resident memory (RSS, Arrow's buffers included) just after each, above what it was before.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sized
from pathlib import Path

import numpy as np
import pyarrow as pa

from cotlens.ids import SeenIds, ids_from_column, ids_from_hex

CHUNK = 1500
MIB = 1 << 20


def hex_column(count: int, rng: np.random.Generator) -> pa.Array:
    digits = rng.bytes(16 * count).hex()
    return pa.array([digits[i : i + 32] for i in range(0, 32 * count, 32)], pa.string())


def measured(label: str, run: Callable[[], object]) -> None:
    gc.collect()
    tracemalloc.start()
    start = time.process_time()
    kept = run()
    seconds = time.process_time() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{label:28s} peak {peak / MIB:8.1f} MiB   {seconds:6.2f} CPU-s")
    del kept


def with_set(column: pa.Array, batches: list[list[str]]) -> object:
    seen = set(column.to_pylist())
    for batch in batches:
        for tid in batch:
            if tid not in seen:
                seen.add(tid)
    return seen


def with_arrays(column: pa.Array, batches: list[list[str]]) -> object:
    seen = SeenIds(ids_from_column(column))
    for batch in batches:
        seen.first_seen(ids_from_hex(batch))
    return seen


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def through_store(column: pa.Array) -> None:
    """The column as a store's part file, read by each side in a fresh process (memory another measurement freed
    would be reused and hide the cost)."""
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as root:
        part = Path(root) / "transcripts" / "run" / "part-00000.parquet"
        part.parent.mkdir(parents=True)
        pq.write_table(pa.table({"transcript_id": column}), part, row_group_size=4096)
        for side in ("cotlens", "set"):
            subprocess.run([sys.executable, __file__, "--read-store", root, "--side", side], check=True)


def read_store(root: str, side: str) -> None:
    import pyarrow.dataset as ds

    from cotlens.store import Store

    gc.collect()
    start = rss()
    if side == "cotlens":
        held: Sized = SeenIds(Store(root).existing_ids())
    else:  # what the code before did: the column read whole, then a set of its values
        parts = [str(p) for p in Store(root).part_files()]
        held = set(
            ds.dataset(parts, format="parquet").to_table(columns=["transcript_id"]).column(0).to_pylist()
        )
    label = "store -> cotlens.ids" if side == "cotlens" else "store -> python set"
    print(f"{label:28s} RSS +{(rss() - start) / MIB:6.1f} MiB held ({len(held):,} ids)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ids", type=int, default=1_000_000, help="stored ids")
    parser.add_argument("--added", type=int, default=200_000, help="new ids offered by the run")
    parser.add_argument("--store", action="store_true", help="read the ids through a store instead (Linux)")
    parser.add_argument("--read-store", help=argparse.SUPPRESS)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_store:
        read_store(args.read_store, args.side)
        return
    rng = np.random.default_rng(1)
    column = hex_column(args.ids, rng)
    if args.store:  # alone, first: memory freed by the other measurements would be reused and hide its cost
        through_store(column)
        return
    stored = column.to_pylist()
    new = [rng.bytes(16).hex() for _ in range(args.added)]
    offered = new + [stored[i] for i in rng.integers(0, len(stored), args.added)] if stored else new
    rng.shuffle(offered)
    batches = [offered[i : i + CHUNK] for i in range(0, len(offered), CHUNK)]
    del stored
    print(f"{args.ids:,} stored ids, {len(offered):,} offered ({args.added:,} new) in chunks of {CHUNK:,}")
    measured("python set of hex strings", lambda: with_set(column, batches))
    measured("cotlens.ids.SeenIds", lambda: with_arrays(column, batches))


if __name__ == "__main__":
    main()
