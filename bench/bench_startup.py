"""What the start-up and worker-pool tricks of cotlens/runtime/ save, each measured in fresh subprocesses.

    .venv/bin/python bench/bench_startup.py                # about a minute; --runs N (default 5)

Each line is the median over --runs of a fresh `python -c` (wall and CPU seconds of the whole subprocess, its
threads included):
1. The launcher's own imports, which come before the worker server is forked (runtime/early.py); then
   `import cotlens.cli`: what every command pays before it parses its options, while the server imports. Then the same and `rates`' options parsed (typer's conversion of each value,
   cli/coercion.py): the difference is what parsing costs.
2. The worker server's imports: those of `rates`' workers (preload.COMMANDS, after the module the server imports
   first) and every command's (what a server started outside a command imports); they run while the CLI imports.
3. The folding tables (measure/fold.py): built, against read from the cache (runtime/cache.py), each over the
   imports both need.
4. The interpreter's teardown after the imports of an analysis: a normal exit against launch.leave's os._exit.
5. `cotlens --version`, whole process, through the launcher.
Not a test: figures for bench/README.md, on whatever load the machine has (CPU seconds move less than wall).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ANALYSIS_IMPORTS = "import polars, pyarrow.dataset, numpy, cotlens.cli, cotlens.analyses.rates"
SERVER = "from cotlens.runtime.preload import run_command, server_modules; import importlib; {select}" + (
    "[importlib.import_module(m) for m in ['cotlens.runtime.server', *server_modules()]]"
)
FOLD = (
    "from cotlens.measure import fold; fold.char_tables() if {cached} else fold._build_char_tables(); "
    "import os; os._exit(0)"
)
# The CLI imported, then one command's options parsed: the command fails at once (no such store) after parsing.
OPTIONS = (
    "import os, sys; from cotlens.cli import run; sys.stderr = open(os.devnull, 'w'); "
    "sys.argv = ['cotlens', 'rates', '--store', '/nonexistent/store', '--term', 'wait', '--term', 'let me', "
    "'--resamples', '1999', '--by', 'model', '--format', 'json']; run(); os._exit(0)"
)
CASES = {
    "launcher, until the server forks": "import cotlens.runtime.launch, os; os._exit(0)",
    "import cotlens.cli": "import cotlens.cli, os; os._exit(0)",
    "import cotlens.cli, parse options": OPTIONS,
    "server imports, rates": SERVER.format(select="run_command('rates');") + "; import os; os._exit(0)",
    "server imports, every command": SERVER.format(select="") + "; import os; os._exit(0)",
    "fold and polars imported only": "import polars, cotlens.measure.fold, os; os._exit(0)",
    "fold tables built": FOLD.format(cached=False),
    "fold tables from the cache": FOLD.format(cached=True),
    "analysis imports, normal exit": ANALYSIS_IMPORTS,
    "analysis imports, os._exit": ANALYSIS_IMPORTS + "; import os; os._exit(0)",
    "nothing (python -c pass)": "pass",
}


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the child's threads included) of one subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "XDG_CACHE_HOME": tempfile.mkdtemp(prefix="cotlens-bench-cache-")}
    env.pop("COTLENS_DEBUG", None)
    subprocess.run([sys.executable, "-c", FOLD.format(cached=True)], check=True, env=env)  # fills the cache
    commands = {name: [sys.executable, "-c", code] for name, code in CASES.items()}
    commands["cotlens --version"] = [sys.executable, "-m", "cotlens", "--version"]
    print(f"{'name':<32} {'wall s':>8} {'CPU s':>8}   (medians of {args.runs})")
    for name, argv in commands.items():
        runs = [timed(argv, env) for _ in range(args.runs)]
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:<32} {wall:>8.3f} {cpu:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
