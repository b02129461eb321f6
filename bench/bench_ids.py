"""The memory and time of ingest's duplicate check at N stored ids: cotlens.ids (sorted 16-byte arrays) against the
Python set of hex strings it replaced.

    .venv/bin/python bench/bench_ids.py --ids 1000000 --added 200000

N random ids are written as the store's `transcript_id` column (an Arrow string column, as read from the part files);
each side then loads them and checks a run of --added new ids (plus as many duplicates) in chunks of 1,500, as
ingest's driver does. Memory is the peak of tracemalloc (numpy's and Python's allocations; the Arrow column itself is
not counted, on either side), time is process CPU time.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ids", type=int, default=1_000_000, help="stored ids")
    parser.add_argument("--added", type=int, default=200_000, help="new ids offered by the run")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    column = hex_column(args.ids, rng)
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
