"""The `cotlens` command's entry point (and `python -m cotlens`'s): the top of the house, above the CLI.

Before importing the CLI, it forks the server that worker processes fork from (early.fork_server) when the
command line shows that the command will read transcript text in workers (preload.COMMANDS says which commands
and options do): the server's imports then run meanwhile, on another core, and the first row group is counted
that much sooner. The command line only tells when: a command whose workers do not run leaves the server idle
until this process exits, and one whose workers run without such a sign starts it itself (never a result changes).

After the command, the process exits without the interpreter's teardown (leave), unless COTLENS_DEBUG is set;
it removes the servers' socket folders itself, which the teardown would have.
bench/README.md has the figures of both.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType

from cotlens.runtime import debugging, early, preload


def main() -> None:
    # Before anything imports numpy (the worker server forked below included). OpenBLAS starts a thread per core
    # that spins for a while even when no product runs (0.06-0.08 CPU-s per process here: on another core, while
    # the worker server imports), and the products cotlens runs (the bootstrap's, of at most a few thousand rows
    # per chunk) gain nothing from them. A value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = sys.argv[1:]
    try:
        if args:
            preload.run_command(args[0])
        if reads_text(args) and early.default_jobs() > 1 and not asks_for_ray(args):
            start_server(list(preload.server_modules()))
        # SIGTERM (kill, a job scheduler) stops a command as Ctrl-C does: the run is discarded, workers stopped.
        signal.signal(signal.SIGTERM, _interrupt)
        from cotlens.cli import run
    except KeyboardInterrupt:  # before the CLI, which says it for the rest of the run, is imported
        print(INTERRUPTED, file=sys.stderr)
        leave(EXIT_INTERRUPTED)
    leave(run())


# As the CLI says an interruption (cli/app.py), which this module imports only after the server is forked.
INTERRUPTED, EXIT_INTERRUPTED = "cotlens: interrupted", 130


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def start_server(modules: list[str]) -> None:
    """The worker server, importing `modules`: forked from this process now, before anything else is imported
    (early.py), where this Python allows; else started by multiprocessing, as a pool would."""
    if early.supported():
        early.fork_server(modules)  # or, when it cannot be, a pool starts its own
    else:
        from cotlens.runtime.workers import start_server as start

        start(modules)


def asks_for_ray(args: list[str]) -> bool:
    """Whether the work goes to Ray tasks (--engine ray, COTLENS_ENGINE=ray): no local workers to fork."""
    for arg, following in zip(args, [*args[1:], ""], strict=True):
        option, _, value = arg.partition("=")
        if option == "--engine":
            return (value or following) == "ray"
    return os.environ.get("COTLENS_ENGINE") == "ray"


def reads_text(args: list[str]) -> bool:
    """Whether the command line makes its command read transcript text in worker processes."""
    workers = preload.COMMANDS.get(args[0]) if args else None
    return workers is not None and workers.run_for(args[1:])


def leave(code: int | str | None) -> None:
    """Exit now, as sys.exit(code) would, without the interpreter's teardown (freeing polars', Arrow's and numpy's
    modules takes a noticeable time): by now every output is written, every file closed, every worker gone (the
    server workers fork from exits when this process does; a local Ray is stopped first). Under a profiler or a
    coverage tracer, which write their results at teardown, or with COTLENS_DEBUG set, it exits as usual."""
    ray_engine = sys.modules.get("cotlens.runtime.ray_engine")
    if ray_engine is not None:
        ray_engine.stop()
    workers = sys.modules.get("cotlens.runtime.workers")
    if workers is not None:
        workers.remove_socket_folders()
    early.remove_socket()
    if debugging() or sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    if isinstance(code, str):
        print(code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        # BrokenPipeError: the reader went away; ValueError: the stream is closed. Nothing left to deliver.
        with contextlib.suppress(BrokenPipeError, ValueError):
            stream.flush()
    os._exit(code if isinstance(code, int) else 1 if isinstance(code, str) else 0)
