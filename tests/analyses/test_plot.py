"""`cotlens plot`: each kind draws a file of the asked format from the analysis' rows; hostile names stay text;
matplotlib stays out of every other command's start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cotlens.cli import app
from cotlens.ingest import IngestOptions, ingest
from cotlens.render.figures import label
from cotlens.store import Store
from tests.helpers import chat, write_jsonl

EVIL = "<script>x</script>$x$ \u202eevil"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("plot")
    records = [chat(i, "Wait, let me check. Hmm, 循环 again.", model="plain") for i in range(6)]
    records += [chat(10 + i, "Let me see. " + "I will check it again. " * 4, model=EVIL) for i in range(6)]
    store = Store(root / "store")
    ingest([str(write_jsonl(root / "in.jsonl", records))], store, IngestOptions())
    return store


def plot(store: Store, out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["plot", *args, "--store", str(store.root), "--out", str(out)])
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("args", "suffix", "magic"),
    [
        (["rates"], "svg", b"<?xml"),
        (["rates", "--terms", "--term", "wait", "--substring"], "png", b"\x89PNG"),
        (["compare", "plain", EVIL, "--top-terms", "1"], "pdf", b"%PDF"),
        (["langmix"], "svg", b"<?xml"),
        (["loops", "--statistic", "dup_5gram_char_frac"], "png", b"\x89PNG"),
    ],
)
def test_each_kind_writes_its_format(
    mixed: Store, tmp_path: Path, args: list[str], suffix: str, magic: bytes
) -> None:
    out = tmp_path / f"figure.{suffix}"
    code, err = plot(mixed, out, *args)
    assert code == 0, err
    assert out.read_bytes().startswith(magic)


def test_hostile_names_are_escaped_text_in_the_svg(mixed: Store, tmp_path: Path) -> None:
    out = tmp_path / "rates.svg"
    assert plot(mixed, out, "rates")[0] == 0
    svg = out.read_text()
    assert "<script" not in svg and "\u202e" not in svg
    assert "&lt;script&gt;x&lt;/script&gt;$x$ &lt;U+202E&gt;evil" in svg  # as written, inert


def test_labels_are_inert_and_bounded() -> None:
    assert label("a\x1b[31mb\n c") == "a␛[31mb c"
    assert label("w" * 100_000) == "w" * 39 + "…"


def test_bad_requests_are_usage_errors(mixed: Store, tmp_path: Path) -> None:
    assert plot(mixed, tmp_path / "x.gif", "rates")[0] == 2
    assert plot(mixed, tmp_path / "x.svg", "pie")[0] == 2
    code, err = plot(mixed, tmp_path / "x.svg", "loops", "--statistic", "nope")
    assert code == 2 and "dup_line_frac" in err
    code, err = plot(mixed, tmp_path / "x.svg", "compare", "plain")
    assert code == 2 and "baseline" in err


def test_the_cli_starts_without_matplotlib() -> None:
    code = "import sys, cotlens.cli; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_substring_counts_as_rates_substring_does(tmp_path: Path) -> None:
    from cotlens.analyses.plot import PlotOptions, plot_result
    from cotlens.scan import Selection

    store = Store(tmp_path / "store")
    records = [chat(1, "Awaiting the answer; wait."), chat(2, "Waiting. Wait, wait.")]
    ingest([str(write_jsonl(tmp_path / "in.jsonl", records))], store, IngestOptions())
    counts = {}
    for substring in (False, True):
        options = PlotOptions(substring=substring)
        rows = plot_result("rates", store, [], [], ["wait"], Selection(), options).rows
        counts[substring] = [r["occurrences"] for r in rows if r["term"] == "wait"]
    assert counts == {False: [3], True: [5]}
