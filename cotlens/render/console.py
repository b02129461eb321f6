"""Where output goes: the consoles on stdout (data) and stderr (summaries, warnings, errors), and one line on
stderr in cotlens' voice."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.text import Text

from cotlens import location

# Wide enough for paths and summaries on stderr when it goes to a file or pipe (rich would assume 80 columns).
# Data on stdout in a pipe takes the terminal's width when one is known (rich's default), else 80.
PIPE_WIDTH = 120


def stdout_console() -> Console:
    return _console(stderr=False)


def stderr_console() -> Console:
    return _console(stderr=True)


def _console(stderr: bool) -> Console:
    """A console on the current stream (tests swap them). Rich turns colour off when the stream is not a
    terminal or NO_COLOR is set."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if not stderr or stream.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(stderr=stderr, width=width)


def say(message: str) -> None:
    """One line on stderr, never wrapped, never interpreted as markup, without the credentials a URI in it may
    carry (a message may quote a path as it was typed)."""
    stderr_console().print(Text(location.blotted(message)), soft_wrap=True)
