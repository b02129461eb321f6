"""The Ray engine: a concurrent.futures Executor whose work runs as Ray tasks.

ingest, measure and the analyses that read text hand their kernels to an Executor (workers.map_ordered); under
`--engine ray` that Executor is this one, so the same kernels see the same chunks and row groups and their
results come back in the same order as with local worker processes: the store and the JSON outputs are the same
by construction. A pool's setup (ingest's: the ids already stored) is put in Ray's object store once and run in
each worker process before the first task of that pool it runs there.

Ray is imported here only, and this module only when the Ray engine is asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

from cotlens.errors import CotlensError
from cotlens.runtime.early import WORKER_ENVIRONMENT, default_jobs, environment_defaults

MISSING = "the Ray engine needs Ray: pip install 'cotlens[ray]'"
try:
    import ray
    import ray.exceptions
except Exception as e:  # not installed; or installed, but broken (a missing dependency, a version mismatch)
    ray = None
    if not isinstance(e, ImportError) or e.name not in ("ray", "ray.exceptions"):
        MISSING += f" (importing it failed: {str(e).splitlines()[0] if str(e) else type(e).__name__})"
# A task whose worker process died (killed, out of memory, node lost) runs again up to this many times;
# an exception raised by the kernel itself is an answer, never retried.
TASK_RETRIES = 3
# How long a cluster's head may take to accept a connection, and to answer it, before it counts as unreachable.
CONNECT_SECONDS = 10
# Set while connecting to a cluster: Ray's tries to reach its head (one a second; 20 by default).
CONNECT_ENVIRONMENT = {"RAY_gcs_server_port_wait_time_s": "5"}
# What a client sends first on an HTTP/2 connection (RFC 9113, 3.4), here with an empty SETTINGS frame; a
# server's first frame is its SETTINGS, of type 4. A Ray cluster's head (its GCS) speaks gRPC, over HTTP/2.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
HTTP2_SETTINGS = 4


def start(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to the Ray cluster at `address` (else RAY_ADDRESS), or start a local Ray with one CPU per core
    (or num_cpus), unless this process is connected already."""
    if ray is None:
        raise CotlensError(MISSING)
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    options: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": logging.ERROR,
        "log_to_driver": False,
    }
    unreachable = _unreachable(address or "local")
    if unreachable:
        # Ray itself would keep trying for minutes, logging every attempt.
        raise CotlensError(f"could not reach the Ray cluster at {address}: {unreachable}")
    if address is None:
        # "local": a Ray of this command's own, never one a `ray start` on this machine left running.
        address, options["num_cpus"] = "local", num_cpus or default_jobs()
        # Its workers inherit this environment: one per CPU, so their own thread pools (polars, Arrow,
        # OpenBLAS) would only oversubscribe it. Not a job runtime_env: tasks then run in the workers Ray
        # starts with it, rather than in workers started for the job (slow to start: bench/README.md). A
        # cluster's nodes are started with the same variables (README, "On a cluster").
        environment: dict[str, str] = WORKER_ENVIRONMENT
    else:
        # A cluster's head that does not answer as one is asked this many times, a second apart (Ray's own
        # default is 20, and each attempt logs a line); a variable the user set is kept.
        environment = CONNECT_ENVIRONMENT
    # Ray's handler of SIGTERM (set by ray.init) exits with its number, without cotlens' own, which stops the
    # command as Ctrl-C does (runtime.launch): it is put back.
    on_sigterm = signal.getsignal(signal.SIGTERM)
    logged = _held_stderr() if address != "local" else contextlib.nullcontext(lambda: "")
    try:
        with environment_defaults(environment), logged as last_logged:
            try:
                ray.init(address=address, **options)
            except Exception as e:  # ConnectionError, RuntimeError, ValueError...: no common base
                raise CotlensError(_failed_start(address, e, last_logged())) from None
    finally:
        if on_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_sigterm)


def _failed_start(address: str, error: Exception, logged: str) -> str:
    """Why Ray could not be started or reached, in one line: Ray's message, the reason its core logged for the
    last attempt (when there is one), and what a cluster with token authentication also needs."""
    where = "a local Ray" if address == "local" else f"the Ray cluster at {address}"
    said = _first_line(error)
    reason = logged.rpartition("Failed to get cluster ID from GCS server: ")[2].strip()
    if reason and "Failed to get cluster ID" in logged:
        said = f"{said} ({reason.splitlines()[0]})"
    hint = ""
    if address != "local" and isinstance(error, ConnectionError) and "RAY_AUTH_MODE" not in os.environ:
        hint = "; a cluster with token authentication also needs RAY_AUTH_MODE=token and its token"
    return f"could not start or reach {where}: {said}{hint}"


@contextlib.contextmanager
def _held_stderr() -> Iterator[Callable[[], str]]:
    """The process's standard error (file descriptor 2, where Ray's core logs each failed attempt to connect,
    below Python) held aside while connecting to a cluster; yields what was written there so far, for an error
    message, and writes it out after a connection that succeeded. Not while starting a local Ray: its
    processes, started meanwhile, would keep the file as their standard error."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error (closed: `2>&-`): nothing to hold
        yield lambda: ""
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)

        def written() -> str:
            held.seek(0)
            return held.read().decode("utf-8", "replace")

        try:
            yield written
            os.write(saved, written().encode())
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _unreachable(address: str) -> str | None:
    """Why nothing answers at a HOST:PORT address as a Ray cluster's head does (None: it answers, or the
    address is Ray's to resolve, such as "local", "auto" or ray://...). Something else listening there (a web
    server, the dashboard's port) would have Ray wait half a minute per attempt."""
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or "/" in address:
        return None
    if not 0 < int(port) < 65536:
        return f"{port} is not a port (1 to 65535)"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS) as connection:
            connection.sendall(HTTP2_PREFACE)
            answer = b""
            while len(answer) < 9:
                received = connection.recv(9 - len(answer))
                if not received:
                    break
                answer += received
    except OSError as e:
        return e.strerror or str(e) or type(e).__name__
    if len(answer) < 9 or answer[3] != HTTP2_SETTINGS:
        return "something answers there, but not as a Ray cluster's head (give its GCS port: 6379 by default)"
    return None


def stop() -> None:
    """Disconnect from Ray, stopping the local Ray this process started (its processes would outlive a
    process that leaves without the interpreter's teardown, as the CLI does)."""
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def cluster_cpus(address: str | None = None) -> int:
    """The CPUs of the cluster (started or reached first): how many tasks run at once."""
    start(address)
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


@contextlib.contextmanager
def ray_pool(
    setup: Callable[..., None] | None, args: tuple[Any, ...], address: str | None
) -> Iterator[Executor]:
    start(address)
    pool = RayExecutor(setup, args)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor(Executor):
    """submit(fn, *args) runs fn(*args) as a Ray task; its Future holds the result, or the kernel's own
    exception (a Ray failure, once retries are spent, becomes a CotlensError)."""

    def __init__(self, setup: Callable[..., None] | None = None, args: tuple[Any, ...] = ()) -> None:
        # The setup's arguments travel inside a list, so that Ray does not fetch them for every task: a worker
        # fetches them once, when it first runs a task of this pool.
        self._setup = (uuid.uuid4().hex, setup, [ray.put(args)] if setup is not None else [])
        self._functions: dict[int, tuple[Any, Any]] = {}  # id(fn) -> (fn, its object ref)
        self._pending: set[Any] = set()
        self._lock = threading.Lock()
        self._task = ray.remote(max_retries=TASK_RETRIES, retry_exceptions=False)(_run)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if kwargs:
            raise TypeError("RayExecutor.submit takes a function and positional arguments")
        held = self._functions.get(id(fn))
        if held is None or held[0] is not fn:
            held = self._functions[id(fn)] = (fn, ray.put(fn))
        ref = self._task.remote(self._setup, held[1], *args)
        future: Future[Any] = Future()
        with self._lock:
            self._pending.add(ref)
        ref.future().add_done_callback(lambda done: self._settle(ref, done, future))
        return future

    def _settle(self, ref: Any, done: Future[Any], future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(ref)
        error = done.exception()
        if error is None:
            future.set_result(done.result())
        else:
            future.set_exception(_own_error(error))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Cancel what has not finished (when asked) and wait for it: no task of this pool still writes after
        it is shut down (ingest's staged chunks live in a directory removed after a failed run)."""
        with self._lock:
            pending = list(self._pending)
        if cancel_futures:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)
        if wait and pending:
            ray.wait(pending, num_returns=len(pending))


# The setup this worker process ran last (a pool's token): set up again only for another pool.
_installed: str | None = None


def _run(setup: tuple[str, Callable[..., None] | None, list[Any]], fn: Callable[..., Any], *args: Any) -> Any:
    global _installed
    token, function, held = setup
    if function is not None and _installed != token:
        function(*ray.get(held[0]))
        _installed = token
    return fn(*args)


def _own_error(error: BaseException) -> BaseException:
    """The kernel's exception as it raised it (so callers handle it as with local workers); a failure of Ray
    itself as a one-line CotlensError."""
    if isinstance(error, ray.exceptions.RayTaskError) and isinstance(error.cause, Exception):
        return error.cause
    if isinstance(error, ray.exceptions.RayError):
        return CotlensError(f"the Ray engine failed: {_first_line(error)}")
    return error


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
