"""Ordered maps over a pool this process joins: results in input order, the work shared between the pool's process
and this one (which works while the pool starts), and a failing input still delivers what came before it."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

import cotlens.parse
from cotlens.runtime.workers import JoinedPool, map_ordered, worker_pool

T = TypeVar("T")


def whose(chunk: int) -> tuple[int, int]:
    time.sleep(0.04)
    return chunk, os.getpid()


def test_a_joined_pool_shares_the_chunks_in_order() -> None:
    with worker_pool(2, joined=True) as pool:
        assert isinstance(pool, JoinedPool) and pool.processes == 1
        assert list(map_ordered(whose, range(3), pool, window=6)) == [(i, os.getpid()) for i in range(3)]
        assert not pool.ready()  # not started: every chunk ran here
        pool.start()
        results = list(map_ordered(whose, range(40), pool, window=6))
    assert [chunk for chunk, _ in results] == list(range(40))
    here = [chunk for chunk, pid in results if pid == os.getpid()]
    # The pool's process takes a while to start: the first chunk runs here meanwhile; then both work.
    assert here[0] == 0
    assert 0 < len(here) < 40


def test_without_joining_every_chunk_goes_to_the_pool() -> None:
    with worker_pool(2) as pool:
        assert pool is not None and not isinstance(pool, JoinedPool)
        results = list(map_ordered(whose, range(6), pool, window=4))
    assert [chunk for chunk, _ in results] == list(range(6))
    assert os.getpid() not in {pid for _, pid in results}


def test_one_job_is_no_pool() -> None:
    with worker_pool(1, joined=True) as pool:
        assert pool is None
        assert list(map_ordered(whose, range(3), pool, window=2)) == [(i, os.getpid()) for i in range(3)]


def test_the_chunks_read_before_a_failing_input_are_delivered_first() -> None:
    def chunks() -> Iterator[int]:
        yield from range(5)
        raise ValueError("damaged input")

    delivered = []
    with worker_pool(2, joined=True) as pool, pytest.raises(ValueError, match="damaged input"):
        assert isinstance(pool, JoinedPool)
        pool.start()
        for chunk, _ in map_ordered(whose, chunks(), pool, window=3):
            delivered.append(chunk)
    assert delivered == list(range(5))


class CancellingPool(ProcessPoolExecutor):
    """A pool shut down with its pending work cancelled before its processes started."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        cancelled: Future[T] = Future()
        cancelled.cancel()
        return cancelled


def test_a_joined_pool_left_before_it_started_reports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    closed = ProcessPoolExecutor(1)
    closed.shutdown()  # submit raises RuntimeError
    for pool in (closed, CancellingPool(1)):
        joined = JoinedPool(pool, 1)
        joined.start()
        assert joined._up.wait(30) and joined.ready()
    assert errors == []


class Box:
    def __init__(self, n: int) -> None:
        self.n = n


def boxed(n: int) -> Box:
    return Box(n)


@pytest.mark.parametrize("joined", [False, True])
def test_a_delivered_result_is_not_kept(joined: bool) -> None:
    refs: list[weakref.ref[Box]] = []
    alive = []
    with worker_pool(2, joined=joined) as pool:
        if isinstance(pool, JoinedPool):
            pool.start()
        for box in map_ordered(boxed, range(8), pool, window=2):
            refs.append(weakref.ref(box))
            del box
            gc.collect()
            alive.append(sum(r() is not None for r in refs))
    assert alive == [0] * 8


WHERE_SCRIPT = """
import os
from cotlens.runtime.workers import worker_pool

if __name__ == "__main__":
    with worker_pool(2) as pool:
        print(pool.submit(os.path.realpath, "cotlens").result(), flush=True)
        print(pool.submit(eval, "__import__('cotlens.parse').parse.__file__").result())
"""


def test_workers_run_this_cotlens_from_a_folder_holding_another(tmp_path: Path) -> None:
    # A checkout of another cotlens in the working directory (here one that cannot be imported): the server
    # workers fork from must not import it.
    (tmp_path / "cotlens").mkdir()
    (tmp_path / "cotlens" / "__init__.py").write_text('raise SystemExit("the other cotlens")\n')
    script = tmp_path / "scripts" / "where.py"  # run as a file, as the `cotlens` command is: not from the cwd
    script.parent.mkdir()
    script.write_text(WHERE_SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    assert out[0] == str((tmp_path / "cotlens").resolve())  # the worker's working directory is this one's
    assert out[1] == str(Path(cotlens.parse.__file__))
