"""The `cotlens` command's entry point (and `python -m cotlens`'s).

Before the 0.3-0.5 s of importing the CLI, it starts the server that worker processes fork from
(workers.start_server) when the command line asks for work that reads transcript text in workers: the server's
own imports (0.6 s) then run meanwhile, on another core, and the first row group is counted that much sooner.
The command line is only read for a guess: a wrong guess costs time, never a result (a scan that wants workers
starts the server itself; one that does not leaves it idle until this process exits).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

# Commands that always read text in workers, and the options that make the others do (a --lexicon that names a
# file too). `filter` counts terms in its own process.
TEXT_COMMANDS = frozenset({"keywords"})
TEXT_READING_COMMANDS = frozenset({"rates", "compare", "langmix"})
TEXT_OPTIONS = frozenset({"--term", "--substring", "--tokens", "--ignore-script", "--examples"})


def main() -> None:
    from cotlens.workers import default_jobs, start_server  # the standard library only: quick to import

    # SIGTERM (kill, a job scheduler) stops a command as Ctrl-C does: the run is discarded, workers stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    args = sys.argv[1:]
    if reads_text(args) and default_jobs() > 1 and not asks_for_ray(args):
        # The command's own module (and polars, which its kernel imports when it first runs): 0.1 s less to
        # import than every kernel's.
        start_server(["polars", "cotlens.scan", f"cotlens.analyses.{args[0]}"])
    from cotlens.cli import main as cli_main

    cli_main()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def asks_for_ray(args: list[str]) -> bool:
    """Whether the work goes to Ray tasks (--engine ray, COTLENS_ENGINE=ray): no local workers to fork."""
    for arg, following in zip(args, [*args[1:], ""], strict=True):
        option, _, value = arg.partition("=")
        if option == "--engine":
            return (value or following) == "ray"
    return os.environ.get("COTLENS_ENGINE") == "ray"


def reads_text(args: list[str]) -> bool:
    """Whether the command line is likely to read transcript text in worker processes."""
    if not args:
        return False
    if args[0] in TEXT_COMMANDS:
        return True
    if args[0] not in TEXT_READING_COMMANDS:
        return False
    for arg, following in zip(args, [*args[1:], ""], strict=True):
        option, _, value = arg.partition("=")
        if option in TEXT_OPTIONS:
            return True
        if option == "--lexicon" and os.path.isfile(value or following):
            return True
    return False
