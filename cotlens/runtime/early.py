"""The server workers fork from, forked from the `cotlens` process itself at its very start (launch.main), then
handed to multiprocessing as the server it would have started (adopt).

Why: a server that multiprocessing starts (forkserver.ensure_running) is a new interpreter. This process must
first import multiprocessing and start its resource tracker; the new one then starts Python and imports
multiprocessing again; only then come the imports of the workers' kernels (polars, pyarrow, numpy), which are
most of the time a small store's command takes. Forked here, before any thread runs and with only the standard
library's smallest modules imported, the server begins those imports at once. It then serves exactly as
multiprocessing's own does: it runs multiprocessing.forkserver.main, the same protocol and the same workers
(bench/README.md has the figures).

It relies on the fork server's private state (its address, its "alive" pipe, its pid), which has been the same
from Python 3.11 to 3.13; elsewhere (another Python, or not Linux) the server is started as before
(workers.start_server). The standard library only here (socket and tempfile imported when the server is forked),
so that the fork comes early.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from typing import Any

# One worker per core: a worker's own thread pools (polars, Arrow, OpenBLAS) would only oversubscribe the cores.
# The server's environment, so in place before any of them starts; a value the user set is kept.
WORKER_ENVIRONMENT = {"POLARS_MAX_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

# Imported first by the server: it makes the server exit with the process that started it.
SERVER_MODULE = f"{__package__}.server"


@contextlib.contextmanager
def environment_defaults(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in this process's environment for the block (and so in what it starts meanwhile), each where the
    user set none; those it added are removed after, a value the user set is kept."""
    added = [name for name in values if name not in os.environ]
    os.environ.update({name: values[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            del os.environ[name]


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def supported() -> bool:
    """Whether this Python's fork server can be handed a server forked here (its private state as in 3.11-3.13)."""
    return sys.platform.startswith("linux") and (3, 11) <= sys.version_info[:2] <= (3, 13)


# The forked server not yet handed to multiprocessing: its socket's address, the write end of its "alive" pipe
# (the server exits once every holder has closed it) and its pid.
_forked: list[tuple[str, int, int]] = []
# The folder of the server's socket, removed when this process ends.
_folder: list[str] = []


def fork_server(modules: list[str]) -> bool:
    """Fork the server now, importing `modules` (after SERVER_MODULE), while this process goes on; False when
    it cannot be (no temporary folder, a socket path too long, no process to spare): a pool then starts its
    server as it would have without this."""
    import socket  # here: a command that forks no server does without them
    import tempfile

    try:
        folder = tempfile.mkdtemp(prefix="cotlens-")  # mode 0700: only this user may ask the server to fork
    except OSError:
        return False
    address = os.path.join(folder, "server")
    pipe: tuple[int, int] | None = None
    try:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(address)
            os.chmod(address, 0o600)
            listener.listen()
            pipe = os.pipe()
            parent = os.getpid()
            pid = os.fork()
            if pid == 0:
                _serve(listener.detach(), *pipe, parent, modules)
    except OSError:
        for fd in pipe or ():
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(address)
        with contextlib.suppress(OSError):
            os.rmdir(folder)
        return False
    os.close(pipe[0])
    _forked[:] = [(address, pipe[1], pid)]
    _folder[:] = [folder]
    atexit.register(remove_socket)  # a normal exit; launch.leave calls it itself
    return True


def _serve(listener: int, alive_r: int, alive_w: int, parent: int, modules: list[str]) -> None:
    """The server: exits with `parent`, imports `modules`, then serves the workers' forks until every process
    holding the "alive" pipe has ended. Never returns (nor runs the parent's exit handlers)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        os.close(alive_w)
        os.environ.update({k: v for k, v in WORKER_ENVIRONMENT.items() if k not in os.environ})
        from multiprocessing import forkserver

        from cotlens.runtime.workers import exit_with_parent

        exit_with_parent(parent)
        forkserver.main(listener, alive_r, [SERVER_MODULE, *modules])
    except SystemExit:  # how forkserver.main ends, once no process holds the pipe
        code = 0
    finally:
        os._exit(code)


def adopt() -> bool:
    """Hand a server forked here to multiprocessing, as if its fork server had started it (once); whether one
    was."""
    if not _forked:
        return False
    address, alive_w, pid = _forked.pop()
    from multiprocessing import forkserver

    server: Any = forkserver._forkserver  # its private state (typeshed declares none of it)
    if hasattr(server, "_forkserver_authkey"):
        # A fork server that authenticates its clients (Python 3.14's, or a release that takes that change
        # back): it would refuse this one, which holds no key. Closing the pipe ends it; multiprocessing starts
        # its own as usual.
        os.close(alive_w)
        return False
    server._forkserver_address, server._forkserver_alive_fd, server._forkserver_pid = address, alive_w, pid
    return True


def forked() -> bool:
    """Whether this process forked a server (adopted or not)."""
    return bool(_folder)


def remove_socket() -> None:
    """Remove the server's socket and its folder (the server holds its listening socket open: it goes on)."""
    for folder in _folder:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, "server"))
            os.rmdir(folder)
    _folder.clear()
