"""The README documents every command, format, lexicon, store column and exit code the code has."""

from __future__ import annotations

import typer.main

from cotlens.cli import app
from cotlens.formats import registered_formats
from cotlens.lexicon import builtin_names
from cotlens.record import MEASURED_TEXTS, RECORD_FIELDS, measurements
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_command_has_help_and_is_in_the_readme() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    for name, command in group.commands.items():
        assert command.help, name
        assert f"`cotlens {name}" in README, name


def test_every_format_is_in_the_readme() -> None:
    for fmt in registered_formats():
        assert f"| `{fmt.name}` |" in README, fmt.name


def test_every_builtin_lexicon_is_in_the_readme() -> None:
    for name in builtin_names():
        assert f"| `{name}` |" in README, name


def test_every_store_column_is_in_the_readme() -> None:
    for field in RECORD_FIELDS:
        assert f"`{field.name}`" in README, field.name
    # Measurements are documented once for both texts, as `*_name`; the README's table names both prefixes.
    assert all(f"`{text}_<measurement>`" in README for text in MEASURED_TEXTS)
    for m in measurements():
        named = f"`*_{m.name}`" in README
        inside_the_range = m.name in {f"dup_{n}gram_char_frac" for n in range(6, 10)}  # "dup_5... dup_10"
        assert named or inside_the_range, m.name


def test_the_two_setup_commands() -> None:
    assert "make demo" in README and "make test" in README


def help_text(*args: str) -> str:
    from typer.testing import CliRunner

    got = CliRunner().invoke(app, [*args], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert got.exit_code == 0, got.output
    return got.stdout


def test_every_commands_help_has_examples_of_itself() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    for name in group.commands:
        text = help_text(name, "-h")  # -h as well as --help
        assert "Examples" in text, name
        examples = [line.strip() for line in text.splitlines() if line.strip().startswith(f"cotlens {name} ")]
        assert 1 <= len(examples) <= 4, name


def test_help_groups_options_and_names_their_values() -> None:
    rates = help_text("rates", "--help")
    for panel in ("Selection", "Measurement", "Statistics", "Output"):
        assert f" {panel} " in rates
    assert "TERM" in rates and "<list[str]>" not in rates.split("Options")[1].split("Arguments")[0]
    assert "model, dataset or tag:KEY" in rates and "reasoning or answer" in rates
    assert "raw, summary, redacted, encrypted, hidden, none" in rates
    assert "KEY=VALUE" in help_text("ingest", "-h")
    ingest = " ".join(help_text("ingest", "-h").split())
    for fmt in registered_formats():  # --from lists every registered shape
        assert fmt.name in ingest, fmt.name
    assert "Seed of the --sample draw" in help_text("kwic", "-h")


def test_version_and_completion() -> None:
    from cotlens import __version__

    assert help_text("--version").strip() == f"cotlens {__version__}"
    assert "--install-completion" in help_text("--help")
