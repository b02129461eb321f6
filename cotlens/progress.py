"""Progress of long work, told to whoever listens: the command line draws a bar on stderr when it is a terminal;
a library user may listen too, or not (then nothing is done).

Library code wraps a long loop in `tracked(label, total)` and calls the step it yields as work completes; the
listener is set for a block of code with `listening(listener)` (a context variable, so it reaches the generators
and callees of that block without being passed through every signature)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Protocol


class Listener(Protocol):
    def begin(self, label: str, total: int) -> None: ...
    def advance(self, done: int) -> None: ...
    def end(self) -> None: ...


_LISTENER: ContextVar[Listener | None] = ContextVar("cotlens_progress", default=None)


@contextlib.contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    """Tell `listener` about the tracked work done inside the block."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def _nothing(amount: int = 1) -> None:
    """The step of untracked work."""


@contextlib.contextmanager
def tracked(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A step function, step(amount), to call as `amount` of the `total` units of work are done."""
    listener = _LISTENER.get()
    if listener is None or total <= 0:
        yield _nothing
        return
    done = 0

    def step(amount: int = 1) -> None:
        nonlocal done
        done += amount
        listener.advance(done)

    listener.begin(label, total)
    try:
        yield step
    finally:
        listener.end()
