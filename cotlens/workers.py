"""Ordered, bounded parallel map over a process pool.

Used for CPU-bound kernels over chunks of records. Results come back in input order (so accounting and "first
occurrence wins" dedupe are deterministic) and at most `window` chunks are in flight (so memory stays bounded
whatever the input size; `multiprocessing.Pool.imap` would read the whole input ahead).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _start_worker(setup: Callable[..., None] | None, args: tuple[Any, ...]) -> None:
    # Ctrl-C is the parent's to handle: it stops submitting and discards the run; workers just exit with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One worker per core: a worker's own thread pools (polars, Arrow) would only oversubscribe the cores.
    # Set before the task's modules import polars.
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    if setup is not None:
        setup(*args)


@contextlib.contextmanager
def worker_pool(
    jobs: int, setup: Callable[..., None] | None = None, args: tuple[Any, ...] = ()
) -> Iterator[Executor | None]:
    """A pool of `jobs` processes, each running setup(*args) once when it starts, shut down on exit (pending
    work cancelled). None when jobs <= 1: map_ordered then runs everything in this process."""
    if jobs <= 1:
        yield None
        return
    # spawn, not fork: forking a process that already runs Arrow's thread pools can deadlock.
    pool = ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(setup, args),
    )
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def map_ordered(
    fn: Callable[[T], R],
    chunks: Iterable[T],
    pool: Executor | None,
    window: int,
    local: Callable[[T], bool] = lambda _: False,
) -> Iterator[R]:
    """fn over chunks, in order. Chunks for which `local(chunk)` holds (or all, without a pool) run in this
    process. An exception raised by the `chunks` iterator itself is re-raised only after every chunk read before
    it has been yielded, so that a damaged input still delivers its good part."""
    pending: deque[Future[R]] = deque()
    source = iter(chunks)
    failure: BaseException | None = None
    exhausted = False
    while True:
        while not exhausted and failure is None and len(pending) < max(window, 1):
            try:
                chunk = next(source)
            except StopIteration:
                exhausted = True
                break
            except Exception as e:
                failure = e
                break
            if pool is None or local(chunk):
                done: Future[R] = Future()
                done.set_result(fn(chunk))
                pending.append(done)
            else:
                pending.append(pool.submit(fn, chunk))
        if not pending:
            break
        yield pending.popleft().result()
    if failure is not None:
        raise failure
