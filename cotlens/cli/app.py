"""The command group: cotlens' one voice for click's errors, the help panels, --version, and the exit
(main) that skips the interpreter's teardown."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

# typer ships its own copy of click: its exception classes live there.
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer._click.exceptions import UsageError as ClickUsageError
from typer.core import TyperGroup

from cotlens import __version__, location
from cotlens.escape import printable
from cotlens.progress import listening
from cotlens.render.console import say, stderr_console, stdout_console
from cotlens.render.progress import ProgressBar
from cotlens.runtime import debugging

EXIT_ERROR, EXIT_USAGE, EXIT_GATE, EXIT_INTERRUPTED = 1, 2, 3, 130

# Option values without pydantic when they are plain (0.065 CPU-s of every command's start); a typer whose
# internals differ converts as it always does.
with contextlib.suppress(ImportError):
    from cotlens.cli import coercion

    coercion.install()


class OneVoiceGroup(TyperGroup):
    """The command group, with click's usage errors (a missing argument, a bad option value) in cotlens' one
    voice, `cotlens: usage error: ...` on one line (exit 2), rather than in a box."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        err = stderr_console()
        location.forget_failures()  # what a command learnt of object storage is for its own requests only
        try:
            with listening(ProgressBar(err) if err.is_terminal else None):
                code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError as e:
            e.show()
            code = EXIT_USAGE
        except ClickException as e:
            kind = "usage error" if isinstance(e, ClickUsageError) else "error"
            ctx = getattr(e, "ctx", None)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            say(f"cotlens: {kind}: {printable(e.format_message())}{where}")
            code = e.exit_code
        except typer.Abort:
            say("cotlens: interrupted")
            code = EXIT_INTERRUPTED
        except Exception as e:  # a bug: still one line, no traceback (COTLENS_DEBUG=1 shows it)
            if debugging():
                raise
            detail = printable(str(e)) or "no message"
            say(f"cotlens: error: unexpected failure ({detail}); rerun with COTLENS_DEBUG=1 and report it")
            code = EXIT_ERROR
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneVoiceGroup,
    name="cotlens",
    help="Analyze LLM reasoning transcripts (chains of thought): ingest them into a Parquet store and measure them.",
    no_args_is_help=True,
    add_completion=True,  # cotlens --install-completion / --show-completion
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# Help panels: every command's options grouped the same way.
SELECTION, MEASUREMENT, STATISTICS, OUTPUT = "Selection", "Measurement", "Statistics", "Output"


def version_callback(value: bool) -> None:
    if value:
        stdout_console().print(f"cotlens {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar="",
            callback=version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """cotlens: ingest reasoning transcripts into a store, then measure and compare models."""


def run() -> int | str | None:
    """Run the command line and return its exit code (runtime.launch exits with it)."""
    try:
        app()
    except SystemExit as e:
        return e.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return 0
