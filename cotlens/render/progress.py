"""Progress on stderr, drawn only on a terminal: a bar for long work (progress.tracked: reading text, measuring,
filtering) and a bar per input that ingest reads, in bytes."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from cotlens.escape import printable

# Work shorter than this shows no bar.
PROGRESS_DELAY = 2.0


class ProgressBar:
    """Long work (progress.tracked: reading text, measuring, filtering) as a bar on stderr, shown only once it
    has taken PROGRESS_DELAY seconds, and gone when the work is done."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar: Progress | None = None
        self.label, self.total, self.started = "", 0, 0.0
        self.task = TaskID(0)

    def begin(self, label: str, total: int) -> None:
        self.label, self.total, self.started = label, total, time.monotonic()

    def advance(self, done: int) -> None:
        if self.bar is None and time.monotonic() - self.started >= PROGRESS_DELAY:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=self.total)
        if self.bar is not None:
            self.bar.update(self.task, completed=done)

    def end(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class RichProgress:
    """A progress bar on stderr, per input, in bytes read."""

    def __init__(self, console: Console) -> None:
        self.bar = Progress(
            TextColumn("{task.description}", markup=False),  # a file name is never markup
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task: TaskID | None = None

    def start(self, source: str, total_bytes: int | None) -> None:
        self.bar.start()
        self.task = self.bar.add_task(printable(Path(source).name)[-40:], total=total_bytes)

    def advance(self, position: int) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=position)

    def finish(self) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None
        self.bar.stop()
