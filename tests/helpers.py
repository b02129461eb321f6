"""Small builders for test inputs, and a check of results."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

# The keys of every analysis' JSON document (schema 2), without "sections" and "gates".
DOCUMENT_KEYS = [
    "columns",
    "command",
    "cotlens_version",
    "definitions",
    "rows",
    "schema_version",
    "store_fingerprint",
]


def chat(
    i: int, reasoning: str = "Let me think about it.", answer: str = "42", model: str = "m"
) -> dict[str, Any]:
    """A minimal DeepSeek-style chat completion."""
    return {
        "id": f"chatcmpl-{i}",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer, "reasoning_content": reasoning},
                "finish_reason": "stop",
            }
        ],
    }


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_bytes(b"".join(r if isinstance(r, bytes) else orjson.dumps(r) + b"\n" for r in records))
    return path


def assert_same_numbers(got: Any, expected: Any) -> None:
    """Two results of cotlens.stats (Intervals, RatioResult) equal field by field, arrays bit for bit (NaN too)."""
    for field in dataclasses.fields(got):
        mine, theirs = getattr(got, field.name), getattr(expected, field.name)
        if isinstance(mine, np.ndarray):
            assert mine.tobytes() == theirs.tobytes(), field.name
        else:
            assert mine == theirs, field.name


@contextlib.contextmanager
def resampling_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    """Two threads as the worker processes of any analysis that opens them (scan.scan_workers), for a store
    of any size; yields the (ids of the bundle's RatioSums, side) of every block of resamples they are given to
    draw (groups.resample_groups)."""
    from cotlens import groups, scan

    drawn: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    with ThreadPoolExecutor(2) as pool:
        submit = pool.submit

        def counted(fn: Any, task: Any) -> Any:
            if isinstance(fn, groups._Resample):
                drawn.append((tuple(id(group) for group in task[0]), task[1]))
            return submit(fn, task)

        monkeypatch.setattr(pool, "submit", counted)
        monkeypatch.setattr(scan, "pool_jobs", lambda repays: 2)
        monkeypatch.setattr(scan, "worker_pool", lambda jobs: contextlib.nullcontext(pool))
        yield drawn
