"""Option values converted without pydantic (cli/coercion.py): the same values and the same messages as typer's own
converter, which takes over for anything that is not plain."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.models import OptionInfo
from typer.testing import CliRunner

from cotlens.cli import app
from cotlens.cli.coercion import _NOT_PLAIN, _plain

runner = CliRunner()


def plain(annotation: Any, value: Any, **info: Any) -> Any:
    return _plain(annotation, OptionInfo(**info), value, None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("annotation", "value", "info", "want"),
    [
        (int, "200", {"min": 100}, 200),
        (int, "0012", {}, 12),
        (int, "-3", {}, -3),
        (int, 1999, {"min": 100}, 1999),  # a default, as declared
        (float, "1.5", {"min": 0.001}, 1.5),
        (float, "2", {}, 2.0),
        (float, 64, {}, 64.0),
        (str, "检查\u202e", {}, "检查\u202e"),
        (str, "a\udcffb", {}, "a\udcffb"),  # a file name that is not UTF-8, as Python hands it over
        (list[str], ("wait", "let me"), {}, ["wait", "let me"]),
        (bool, True, {}, True),
    ],
)
def test_plain_values_convert_as_typer_converts_them(
    annotation: Any, value: Any, info: dict[str, Any], want: Any
) -> None:
    got = plain(annotation, value, **info)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize(
    ("annotation", "value", "info"),
    [
        (int, "99", {"min": 100}),  # out of bounds: typer says so
        (int, " 200", {}),
        (int, "+3", {}),
        (int, "1e3", {}),
        (int, "1_000", {}),
        (int, "２", {}),  # a fullwidth digit
        (int, "9" * 19, {}),
        (int, True, {}),
        (float, "nan", {"min": 0.001}),
        (float, "1.", {}),
        (float, ".5", {}),
        (float, "0.0001", {"min": 0.001}),
        (str, b"bytes", {}),
        (list[str], ("a", b"b"), {}),
        (bool, "yes", {}),
    ],
)
def test_anything_else_goes_to_typer(annotation: Any, value: Any, info: dict[str, Any]) -> None:
    assert plain(annotation, value, **info) is _NOT_PLAIN


def test_a_path_goes_through_typers_checks(tmp_path: Path) -> None:
    assert plain(Path, str(tmp_path)) == tmp_path
    assert plain(Path, str(tmp_path / "missing")) == tmp_path / "missing"  # not required to exist


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resamples", "abc"], "Input should be a valid integer, unable to parse string as an integer"),
        (["--resamples", "99"], "Input should be greater than or equal to 100"),
        (["--resamples", "1e3"], "Input should be a valid integer"),
    ],
)
def test_a_bad_value_gets_typers_message(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["rates", "--store", str(tmp_path), *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert f"cotlens: usage error: Invalid value for '{args[0]}': {message}" in result.stderr


def test_a_command_with_plain_values_never_imports_pydantic(tmp_path: Path) -> None:
    program = (
        "import sys\n"
        "from cotlens.cli import run\n"
        f"sys.argv = ['cotlens', 'rates', '--store', {str(tmp_path)!r}, '--term', 'wait', '--resamples', '200',"
        " '--by', 'model', '--format', 'json']\n"
        "code = run()\n"
        "print(code, 'pydantic' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.stdout.split() == ["1", "False"], done.stderr  # no store there: exit 1, after the options
