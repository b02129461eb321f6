"""What each command's worker processes run, declared once: the modules of their kernels, which the server they
fork from imports before forking them, and when the command line alone shows that they will run.

The launcher reads this table before the CLI's imports (the standard library only here, so reading it is quick)
to start the server early, and says which command runs; a server the pool starts later imports that command's
modules (a library process, every command's). tests/runtime/test_launch.py checks
it against the CLI: every command and option named here exists there, every module imports.
"""

from __future__ import annotations

import importlib.util
import os
import pkgutil
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Workers:
    """A command's workers. They certainly run, for a store or input large enough to repay starting them, when
    `always`, or when the command line has one of `options`, or (`lexicon_files`) a --lexicon that names a
    file, whose terms are counted from the text."""

    modules: tuple[str, ...]
    always: bool = False
    options: frozenset[str] = frozenset()
    lexicon_files: bool = False

    def run_for(self, args: list[str]) -> bool:
        """Whether the command line `args` (after the command's name) makes the workers run."""
        if self.always:
            return True
        for i, arg in enumerate(args):
            option, _, value = arg.partition("=")
            following = args[i + 1] if i + 1 < len(args) else ""
            if option in self.options:
                return True
            if self.lexicon_files and option == "--lexicon" and os.path.isfile(value or following):
                return True
        return False


# Every worker imports polars (the text kernels count with it) and the scan that reads row groups; and numpy's
# masked arrays and random generators, which numpy imports only when first asked for (polars asks for the first
# on its first Series from numpy, the bootstraps for the second): once in the server rather than in each worker.
COMMON = ("polars", "numpy.ma", "numpy.random", "cotlens.scan")
# Every module of measure/, as its kernel registry finds (and imports) them: listed from the package's folder when a
# server starts, so a kernel added there is preloaded with no edit here.
MEASURE_KERNELS = "cotlens.measure.*"
# Options that make a term count from the text rather than from the counts stored at ingest.
TERMS_FROM_TEXT = frozenset({"--term", "--substring"})

COMMANDS: dict[str, Workers] = {
    # Parsing and measuring inputs over a size the launcher does not look at: started when the pool is. Their
    # workers measure with every kernel the registry finds in measure/ (MEASURE_KERNELS).
    "ingest": Workers(("cotlens.ingest", MEASURE_KERNELS)),
    "measure": Workers(("cotlens.intrinsic", MEASURE_KERNELS)),
    "rates": Workers(("cotlens.analyses.rates",), options=TERMS_FROM_TEXT | {"--tokens"}, lexicon_files=True),
    "compare": Workers(("cotlens.analyses.compare",), options=frozenset({"--term"}), lexicon_files=True),
    "langmix": Workers(("cotlens.analyses.langmix",), options=frozenset({"--ignore-script", "--examples"})),
    "keywords": Workers(("cotlens.analyses.keywords",), always=True),
    # Counts terms in its own process unless the Ray engine runs it.
    "filter": Workers(("cotlens.analyses.filter",)),
    "kwic": Workers(("cotlens.analyses.kwic",)),
    # Every analysis of the page, each in a worker, then the figures, on a store large enough.
    "report": Workers(
        (
            "cotlens.analyses.report",
            "cotlens.analyses.rates",
            "cotlens.analyses.langmix",
            "cotlens.analyses.loops",
            "cotlens.analyses.keywords",
        )
    ),
}


# The command this process runs, when the launcher was told (None: a library process, which may run any kernel).
_command: list[str] = []


def run_command(name: str) -> None:
    """Tell the pool which command this process runs: a server started later imports that command's modules."""
    _command[:] = [name]


def server_modules() -> tuple[str, ...]:
    """What the server workers fork from imports: the running command's modules, or every command's."""
    if _command and _command[0] in COMMANDS:
        declared = [*COMMON, *COMMANDS[_command[0]].modules]
    else:
        declared = [*COMMON, *(m for w in COMMANDS.values() for m in w.modules)]
    return tuple(dict.fromkeys(name for entry in declared for name in _expanded(entry)))


def _expanded(entry: str) -> list[str]:
    """A module name, or every module of a package for "package.*" (found without importing them)."""
    if not entry.endswith(".*"):
        return [entry]
    package = entry[:-2]
    spec = importlib.util.find_spec(package)
    folders = spec.submodule_search_locations if spec is not None else None
    return [f"{package}.{info.name}" for info in pkgutil.iter_modules(folders or [])]
