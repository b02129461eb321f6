from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import regex
from typer.testing import CliRunner

from cotlens.store import Store

# Caches (the folding tables) go to a directory of this test run, not the user's; set before any worker starts.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="cotlens-test-cache-")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FORMATS = FIXTURES / "formats"
DEMO = FIXTURES / "demo"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


# One voice: a command that fails says so on one line with the prefix of its exit code, never with a traceback or
# an exception's name. Every CLI invocation of the test suite is checked.
PREFIX_BY_CODE = {1: "cotlens: error: ", 2: "cotlens: usage error: "}
EXCEPTION_NAME = regex.compile(r"Traceback|\b[A-Z]\w*(?:Error|Exception)\b|\bKeyError\b")


def check_voice(result: object) -> None:
    code = getattr(result, "exit_code", 0)
    stderr = getattr(result, "stderr", "")
    exception = getattr(result, "exception", None)
    assert exception is None or isinstance(exception, SystemExit), f"uncaught {exception!r}"
    assert not EXCEPTION_NAME.search(stderr), f"an exception's name on stderr: {stderr!r}"
    if code in PREFIX_BY_CODE:
        lines = stderr.splitlines()
        assert any(line.startswith(PREFIX_BY_CODE[code]) for line in lines), f"exit {code}: {stderr!r}"
        assert not any("╭" in line for line in lines), f"a boxed error: {stderr!r}"


@pytest.fixture(autouse=True)
def one_voice(monkeypatch: pytest.MonkeyPatch) -> None:
    invoke = CliRunner.invoke

    def checked(self: CliRunner, *args: object, **kwargs: object) -> object:
        result = invoke(self, *args, **kwargs)  # type: ignore[arg-type]
        check_voice(result)
        return result

    monkeypatch.setattr(CliRunner, "invoke", checked)
