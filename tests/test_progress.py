"""Long work reports its progress to a listener (the CLI's bar on a terminal's stderr): reading text, measuring a
deferred store, filtering; nothing is drawn when stderr is not a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from cotlens import cli
from cotlens.analyses.filter import FilterOptions, run_filter
from cotlens.analyses.keywords import KeywordOptions, compute_keywords
from cotlens.cli import ProgressBar, app
from cotlens.conditions import parse_condition
from cotlens.ingest import IngestOptions, ingest
from cotlens.intrinsic import measure_store
from cotlens.progress import listening, tracked
from cotlens.scan import Selection
from cotlens.store import Store
from tests.conftest import DEMO

runner = CliRunner()


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def begin(self, label: str, total: int) -> None:
        self.events.append(("begin", (label, total)))

    def advance(self, done: int) -> None:
        self.events.append(("advance", done))

    def end(self) -> None:
        self.events.append(("end", None))


def test_measuring_reading_text_and_filtering_are_tracked(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    ingest([str(DEMO / "orion-3.jsonl"), str(DEMO / "plain-7b.jsonl")], store, IngestOptions(measure=False))
    recorder = Recorder()
    with listening(recorder):
        measure_store(store)
        compute_keywords(store, "orion-3", Selection(("orion-3",)), KeywordOptions(top=3))
        run_filter(store, Selection(), [parse_condition("not loop", [])], [], FilterOptions())
    begins = [e[1] for e in recorder.events if e[0] == "begin"]
    parts = len(store.part_files())
    assert begins == [("measuring", parts), ("reading text", parts), ("filtering", 160)]
    # Each ends where it said it would, then ends.
    ends = [i for i, e in enumerate(recorder.events) if e[0] == "end"]
    assert [recorder.events[i - 1] for i in ends] == [
        ("advance", parts),
        ("advance", parts),
        ("advance", 160),
    ]


def test_nothing_is_told_without_a_listener() -> None:
    with tracked("work", 3) as step:
        step(1)  # no listener: a no-op


def test_the_bar_waits_before_showing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    bar = ProgressBar(Console(file=out, force_terminal=True, width=60))
    clock = iter([0.0, 0.5, 3.0, 3.5])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    bar.begin("reading text", 4)
    bar.advance(1)  # at 0.5 s: nothing drawn yet
    assert bar.bar is None
    bar.advance(2)  # at 3 s: shown
    assert bar.bar is not None
    bar.advance(4)
    bar.end()
    assert bar.bar is None and "reading text" in out.getvalue()


def test_no_bar_in_a_pipe(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    ingest([str(DEMO / "orion-3.jsonl")], store, IngestOptions(measure=False))
    got = runner.invoke(app, ["measure", "--store", str(store.root)])
    assert got.exit_code == 0 and got.stderr.splitlines() == ["80 transcripts measured in 1 of 1 part files"]
