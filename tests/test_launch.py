"""The entry point's guess of whether a command line reads text in worker processes (launch.reads_text)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cotlens.launch import asks_for_ray, reads_text


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ([], False),
        (["keywords", "orion-3"], True),
        (["rates"], False),
        (["rates", "--lexicon", "o3-dialect"], False),
        (["rates", "--term", "wait"], True),
        (["rates", "--term=wait"], True),
        (["rates", "--tokens", "words"], True),
        (["compare", "a", "b", "--substring"], True),
        (["langmix", "--ignore-script", "Greek"], True),
        (["filter", "--term", "wait", "--where", "rate(terms:wait) < 1"], False),  # counts in its own process
        (["langmix", "--examples", "2"], True),
        (["loops", "--term", "wait"], False),  # not a command that reads text
        (["ingest", "x.jsonl"], False),
    ],
)
def test_reads_text(args: list[str], want: bool) -> None:
    assert reads_text(args) is want


@pytest.mark.parametrize(
    ("args", "env", "want"),
    [
        (["rates", "--engine", "ray"], None, True),
        (["keywords", "m", "--engine=ray"], None, True),
        (["rates", "--engine", "local"], "ray", False),  # the option wins over the environment
        (["rates", "--term", "x"], "ray", True),
        (["rates", "--term", "x"], None, False),
        (["rates", "--term", "--engine"], None, False),
    ],
)
def test_asks_for_ray(args: list[str], env: str | None, want: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Ray engine forks no local workers: the entry point starts no server for them."""
    monkeypatch.delenv("COTLENS_ENGINE", raising=False)
    if env is not None:
        monkeypatch.setenv("COTLENS_ENGINE", env)
    assert asks_for_ray(args) is want


def test_a_lexicon_file_reads_text(tmp_path: Path) -> None:
    lexicon = tmp_path / "mine.txt"
    lexicon.write_text("overshadow\n")
    assert reads_text(["rates", "--lexicon", str(lexicon)])
    assert reads_text(["rates", f"--lexicon={lexicon}"])
    assert not reads_text(["rates", "--lexicon", str(tmp_path / "missing.txt")])


def test_python_m_cotlens_runs_the_cli_and_keeps_the_exit_code() -> None:
    done = subprocess.run([sys.executable, "-m", "cotlens", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("cotlens ")
    bad = subprocess.run([sys.executable, "-m", "cotlens", "rates", "--tokens", "bytes"], capture_output=True)
    assert bad.returncode == 2
