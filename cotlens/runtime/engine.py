"""Which engine runs the kernels: worker processes on this machine (`local`) or tasks on a Ray cluster (`ray`).

The choice is made once per command (`--engine`, env COTLENS_ENGINE) and read where worker pools start
(workers.worker_pool, workers.pool_jobs): every kernel, its inputs and the order results come back in are the
same whatever runs them, so the store and every analysis's output are the same by construction. This module
imports nothing of Ray: only ray_engine does, when the Ray engine is asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from cotlens.errors import UsageError

ENGINES = ("local", "ray")


@dataclass(frozen=True, slots=True)
class Engine:
    name: str = "local"
    address: str | None = (
        None  # a running Ray cluster (None: RAY_ADDRESS, else a local Ray started on demand)
    )


_selected = Engine()


def selected_engine() -> Engine:
    return _selected


def check_engine(name: str, given: str = "--engine") -> str:
    """An engine's name, as given (`given`: the option or variable that gave it), checked."""
    if name not in ENGINES:
        raise UsageError(f"{given} {name!r}: choose one of {', '.join(ENGINES)}")
    return name


@contextlib.contextmanager
def use_engine(name: str, address: str | None = None) -> Iterator[Engine]:
    """Run what follows on this engine; the previous one is back on leaving."""
    global _selected
    check_engine(name)
    previous, _selected = _selected, Engine(name, address or None)
    try:
        yield _selected
    finally:
        _selected = previous
