"""The README documents every command, format, lexicon, store column and exit code the code has."""

from __future__ import annotations

import typer.main

from cotlens.cli import app
from cotlens.formats import registered_formats
from cotlens.lexicon import builtin_names
from cotlens.record import MEASURED_TEXTS, MEASUREMENTS, RECORD_FIELDS
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
    for m in MEASUREMENTS:
        named = f"`*_{m.name}`" in README
        inside_the_range = m.name in {f"dup_{n}gram_char_frac" for n in range(6, 10)}  # "dup_5... dup_10"
        assert named or inside_the_range, m.name


def test_the_two_setup_commands() -> None:
    assert "make demo" in README and "make test" in README
