"""Whole commands run in turn, several times, for the best and median wall time and the CPU time of each one's
whole process tree: what a comparison of two checkouts needs on a machine shared with other work.

    .venv/bin/python bench/alternate.py --runs 5 -- cotlens rates --store S --term wait \\
        -- /path/to/other/checkout/.venv/bin/cotlens rates --store S --term wait \\
        -- .venv/bin/python one_off.py corpus.jsonl wait

Commands are separated by `--` and run one after the other, --runs rounds, so that a change in the machine's load
falls on all of them alike. CPU time counts every process a command starts, the worker server cotlens forks its
workers from included, although that server outlives its parent for a moment: this process is their subreaper
(Linux), so they are reaped here. Run it from a folder without a `cotlens` package folder in it: the server's
interpreter puts its current folder first on its path, so a checkout's folder would shadow the command's own
cotlens in its workers.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def run(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of argv and every process it started."""
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - start
    while True:  # the orphans adopted meanwhile (a worker server exits with its parent)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    after = os.times()
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-500:]
        raise SystemExit(f"alternate: {' '.join(argv)} exited {done.returncode}:\n{tail}")
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("commands", nargs=argparse.REMAINDER, help="commands, each after a --")
    args = parser.parse_args()
    commands: list[list[str]] = []
    for word in args.commands:
        if word == "--":
            commands.append([])
        elif commands:
            commands[-1].append(word)
    commands = [c for c in commands if c]
    if not commands:
        parser.error("give at least one command after --")
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    times: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(args.runs):
        for i, argv in enumerate(commands):
            times[i].append(run(argv))
    print(
        f"{'wall best':>9} {'median':>7} {'CPU best':>9} {'median':>7}  command   (load {os.getloadavg()[0]:.1f})"
    )
    for argv, runs in zip(commands, times, strict=True):
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(
            f"{min(walls):>9.3f} {statistics.median(walls):>7.3f} {min(cpus):>9.3f} "
            f"{statistics.median(cpus):>7.3f}  {' '.join(argv)[:100]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
