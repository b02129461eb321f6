"""Ordered, bounded parallel map over a process pool.

Used for CPU-bound kernels over chunks of records. Results come back in input order (so accounting and "first
occurrence wins" dedupe are deterministic) and at most `window` chunks are in flight (so memory stays bounded
whatever the input size; `multiprocessing.Pool.imap` would read the whole input ahead).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import CancelledError, Executor, Future
from typing import TYPE_CHECKING, Any, TypeVar

from cotlens.runtime import early
from cotlens.runtime.early import SERVER_MODULE, WORKER_ENVIRONMENT, default_jobs, environment_defaults
from cotlens.runtime.engine import selected_engine
from cotlens.runtime.preload import server_modules

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# multiprocessing, its fork server and ProcessPoolExecutor (about 0.02 CPU-s) and ctypes are imported where a pool
# or its server starts: a command that runs no worker does without them.

T = TypeVar("T")
R = TypeVar("R")


def pool_jobs(repays: bool) -> int:
    """How many workers to run on: one per core when the work `repays` starting them, else 1 (this process);
    under the Ray engine, the cluster's CPUs whatever the size (the engine was asked for)."""
    engine = selected_engine()
    if engine.name == "ray":
        from cotlens.runtime.ray_engine import cluster_cpus

        return cluster_cpus(engine.address)
    return default_jobs() if repays else 1


# Workers are forked from a server process (multiprocessing's "forkserver") that imported the modules of the
# kernels they run once (preload.py declares them per command), so a worker is ready at once rather than after
# imports of its own. Never from this process: forking one that already runs Arrow's or polars' thread pools can
# deadlock.
# The server's environment (WORKER_ENVIRONMENT) and the module it imports first (SERVER_MODULE) are declared in
# early.py, which the launcher imports before anything else.
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def exit_with_parent(parent: int | None = None) -> None:
    """Have the kernel kill this process when its parent dies (Linux prctl PR_SET_PDEATHSIG; elsewhere nothing),
    so that a killed cotlens leaves no worker or server behind. `parent`: the process that must still be alive
    (a parent that died before the call would not signal)."""
    if not sys.platform.startswith("linux"):
        return
    expected = os.getppid()
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != expected or (parent is not None and not _alive(parent)):
        os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# The folder holding the cotlens package this process runs.
PACKAGE_HOME = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Whether this process started the server (it then runs until this process exits).
_server: list[bool] = []


def server_started() -> bool:
    """Whether the server workers fork from was started by this process: a pool then costs little more than
    its forks."""
    return bool(_server) or early.forked()


def start_server(preload: Sequence[str] | None = None) -> None:
    """Start the server workers fork from, unless it runs: it imports `preload` (by default the running command's
    modules, preload.server_modules) while this process goes on, so a command that will need workers calls this
    first thing."""
    import multiprocessing.forkserver

    modules = server_modules() if preload is None else preload
    preload = [SERVER_MODULE, *(name for name in modules if name != SERVER_MODULE)]
    multiprocessing.get_context("forkserver").set_forkserver_preload(preload)
    # A server the launcher forked (early.py) is this one's: ensure_running below finds it running (and starts
    # another, as usual, only if it has died).
    early.adopt()
    here = os.getcwd()
    with environment_defaults(WORKER_ENVIRONMENT):
        try:
            # Started from the folder that holds this cotlens: the server runs `python -c`, which looks for
            # modules in its working directory first (Python 3.11's server does not take this process's sys.path),
            # so from a folder holding another cotlens (a checkout) the workers would run that one's code.
            os.chdir(PACKAGE_HOME)
            multiprocessing.forkserver.ensure_running()
            _server[:] = [True]
        finally:
            os.chdir(here)


def remove_socket_folders() -> None:
    """Remove the folder of the socket of a server multiprocessing started (this process's temporary folder):
    launch.leave's os._exit skips the exit handler that would (every command would leave one behind)."""
    process = sys.modules.get("multiprocessing.process")
    folder = process.current_process()._config.get("tempdir") if process is not None else None
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def prepare_pool(jobs: int) -> None:
    """Start the server a pool of `jobs` processes will fork from, now: it imports while this process goes on
    (nothing to start for one job, or under the Ray engine)."""
    if jobs > 1 and selected_engine().name == "local":
        start_server()


def _start_worker(main: int, setup: Callable[..., None] | None, args: tuple[Any, ...]) -> None:
    # Ctrl-C is the parent's to handle: it stops submitting and discards the run; workers just exit with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(main)
    if setup is not None:
        setup(*args)


@contextlib.contextmanager
def worker_pool(
    jobs: int,
    setup: Callable[..., None] | None = None,
    args: tuple[Any, ...] = (),
    joined: bool = False,
) -> Iterator[Executor | None]:
    """A pool of `jobs` processes, each running setup(*args) once when it starts, shut down on exit (pending
    work cancelled). None when jobs <= 1: map_ordered then runs everything in this process. `joined`: this
    process works too, so the pool has one process fewer, started by its start() (a JoinedPool). Under the Ray
    engine, Ray tasks instead, however many jobs (ray_engine.RayExecutor)."""
    engine = selected_engine()
    if engine.name == "ray":
        from cotlens.runtime.ray_engine import ray_pool

        with ray_pool(setup, args, engine.address) as executor:
            yield executor
        return
    if jobs <= 1:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    start_server()
    pool = ProcessPoolExecutor(
        jobs - 1 if joined else jobs,
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=_start_worker,
        initargs=(os.getpid(), setup, args),
    )
    try:
        yield JoinedPool(pool, jobs - 1) if joined else pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class JoinedPool(Executor):
    """A process pool this process works beside (map_ordered shares the chunks between them), its processes
    started when start() is called (once the work is known to repay them): from a thread, since starting one
    waits for the server's imports, and this process works meanwhile."""

    def __init__(self, pool: ProcessPoolExecutor, processes: int) -> None:
        self.processes = processes
        self._pool = pool
        self._up = threading.Event()
        self._starting: threading.Thread | None = None

    def start(self) -> None:
        if self._starting is None:
            self._starting = threading.Thread(target=self._start, daemon=True)
            self._starting.start()

    def _start(self) -> None:
        try:
            for started in [self._pool.submit(os.getpid) for _ in range(self.processes)]:
                started.exception()  # waits; a pool that cannot start fails the chunks submitted to it
        except (RuntimeError, CancelledError):
            pass  # shut down (the run ended, failed or was stopped) or broken before it started: nothing to start
        finally:
            self._up.set()

    def ready(self) -> bool:
        """Whether the processes run (a chunk submitted now starts at once); never before start()."""
        return self._up.is_set()

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait, cancel_futures=cancel_futures)


def map_ordered(
    fn: Callable[[T], R],
    chunks: Iterable[T],
    pool: Executor | None,
    window: int,
    local: Callable[[T], bool] = lambda _: False,
) -> Iterator[R]:
    """fn over chunks, in order. Chunks for which `local(chunk)` holds (or all, without a pool) run in this
    process. An exception raised by the `chunks` iterator itself is re-raised only after every chunk read before
    it has been yielded, so that a damaged input still delivers its good part.

    A JoinedPool shares the chunks with this process: a chunk goes to the pool once its processes run and hold
    fewer than two chunks each (the next one always queued), else it runs here; a result ready is delivered
    before more work is taken. So this process works while the pool starts, and no core idles while the input
    lasts."""
    pending: deque[Future[R]] = deque()
    joined = pool if isinstance(pool, JoinedPool) else None
    pooled: list[Future[R]] = []  # the chunks sent to a joined pool, not yet done
    source = iter(chunks)
    failure: BaseException | None = None
    exhausted = False
    while True:
        while not exhausted and failure is None and len(pending) < max(window, 1):
            if joined and pending and pending[0].done():
                break
            try:
                chunk = next(source)
            except StopIteration:
                exhausted = True
                break
            except Exception as e:
                failure = e
                break
            pooled[:] = [f for f in pooled if not f.done()]
            if pool is None or local(chunk) or (joined and not _room(joined, len(pooled))):
                pending.append(_finished(fn(chunk)))
            else:
                pending.append(pool.submit(fn, chunk))
                if joined:
                    pooled.append(pending[-1])
        if not pending:
            break
        yield _deliver(pending, pooled)
    if failure is not None:
        raise failure


def _deliver(pending: deque[Future[R]], pooled: list[Future[R]]) -> R:
    """The first pending result, forgotten here (by a helper: a local of the generator would keep it)."""
    head = pending.popleft()
    if head in pooled:
        pooled.remove(head)
    return head.result()


def _finished(value: R) -> Future[R]:
    done: Future[R] = Future()
    done.set_result(value)
    return done


def _room(pool: JoinedPool, pooled: int) -> bool:
    return pool.ready() and pooled < 2 * pool.processes
