"""What the commands share: options (--store, --format, selection, statistics, engines), the handler that
turns library errors into one line and an exit code, and the step that hands a Result to render/."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import typer
from pyarrow import ArrowException
from typer._click.exceptions import UsageError as ClickUsageError

from cotlens import location
from cotlens.cli.app import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    MEASUREMENT,
    OUTPUT,
    SELECTION,
    STATISTICS,
)
from cotlens.errors import CotlensError, UsageError
from cotlens.escape import printable
from cotlens.render import OutputFormat, render
from cotlens.render.console import say, stdout_console
from cotlens.result import Result
from cotlens.scan import Selection
from cotlens.store import Store, first_line

T = TypeVar("T")


# A string, not a Path: a Path would fold the `//` of an s3:// or gs:// store.
StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        envvar="COTLENS_STORE",
        show_default=True,
        metavar="PATH",
        rich_help_panel=SELECTION,
        help="Store directory, or s3:// or gs:// URI (env COTLENS_STORE).",
    ),
]


def output_formats(*names: str, where: str = "") -> Any:
    """The --format option of a command that writes these formats (the default first): any other value is a
    usage error that lists them. `where` says where the output goes when that is not plain stdout."""

    def check(ctx: typer.Context, value: str | None) -> str | None:
        if value is not None and value not in names:
            listed = ", ".join(repr(n) for n in names)
            raise typer.BadParameter(
                f"{value!r} is not one of {listed}, the formats {ctx.command_path} writes"
            )
        return value

    listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    return typer.Option(
        "--format",
        metavar=f"<{'|'.join(names)}>",
        callback=check,
        rich_help_panel=OUTPUT,
        help=f"Output format: {listed}{where}.",
    )


FormatOption = Annotated[str, output_formats("table", "json", "csv", "md")]


# Where a summary goes: its table on stderr (stdout stays free for data), its JSON on stdout.
SUMMARY = " (table: on stderr; json: on stdout, the table still on stderr)"


def local_output(value: str | None) -> str | None:
    """The value of an option naming a file to write (--out, --exclusions): a local path, or - for stdout.
    Outputs are not written to object storage, and a URI taken as a path would write into a local folder
    named `s3:`: it is refused before any work is done."""
    if value is not None and location.scheme(value) is not None:
        raise typer.BadParameter(
            f"{value!r} is a URI: outputs are written to local paths only (object storage holds stores and inputs)"
        )
    return value


def json_alias(json_: bool, format_: str) -> str:
    """The format asked for, with --json an older name of --format json (both may be given)."""
    if json_ and format_ not in ("table", "json"):
        raise typer.BadParameter(f"--json is --format json: it cannot go with --format {format_}")
    return "json" if json_ else format_


def engine_choice(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
    """--engine's value, checked as the engine checks it, naming COTLENS_ENGINE when that gave it."""
    from typer._click.core import ParameterSource

    from cotlens.runtime.engine import check_engine

    came = ctx.get_parameter_source(param.name or "") if param.name else None
    try:
        return check_engine(value, "COTLENS_ENGINE" if came is ParameterSource.ENVIRONMENT else "--engine")
    except UsageError as e:
        raise ClickUsageError(str(e), ctx) from None


EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        envvar="COTLENS_ENGINE",
        callback=engine_choice,
        metavar="local|ray",
        help="Where the work runs: local (worker processes here) or ray (Ray tasks; same results). Env COTLENS_ENGINE.",
    ),
]


RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        envvar="RAY_ADDRESS",
        metavar="ADDRESS",
        help="With --engine ray: a running Ray cluster (default: a local Ray started for the command). Env RAY_ADDRESS.",
    ),
]


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Library errors become one line on stderr and an exit code; never a traceback."""
    try:
        yield
    except UsageError as e:
        say(f"cotlens: usage error: {printable(str(e))}")
        raise typer.Exit(EXIT_USAGE) from None
    except CotlensError as e:
        say(f"cotlens: error: {printable(str(e))}")
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        say("cotlens: interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (OSError, ArrowException) as e:
        # The library names the cause where it knows it (a store's read-only or damaged files, an output that
        # cannot be written); anything else the system or Arrow refuses is still one line, never a traceback.
        say(f"cotlens: error: {printable(os_error_text(e))}")
        raise typer.Exit(EXIT_ERROR) from None


def os_error_text(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return first_line(error)


ModelsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help="Models to include (default: every model in the store).",
        show_default=False,
        metavar="[MODEL]...",
    ),
]


DatasetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--dataset", metavar="NAME", rich_help_panel=SELECTION, help="Only these datasets (repeatable)."
    ),
]


KindOption = Annotated[
    list[str] | None,
    typer.Option(
        "--kind",
        metavar="KIND",
        rich_help_panel=SELECTION,
        help="Reasoning kinds to include, repeatable: raw, summary, redacted, encrypted, hidden, none "
        "(default raw and summary, reported apart).",
    ),
]


FieldOption = Annotated[
    str,
    typer.Option(
        "--field", metavar="FIELD", rich_help_panel=MEASUREMENT, help="Text to measure: reasoning or answer."
    ),
]


ByOption = Annotated[
    str,
    typer.Option(
        "--by", metavar="GROUP", rich_help_panel=MEASUREMENT, help="Group by: model, dataset or tag:KEY."
    ),
]


ResamplesOption = Annotated[
    int,
    typer.Option(
        "--resamples",
        min=100,
        max=1_000_000,
        metavar="N",
        rich_help_panel=STATISTICS,
        help="Bootstrap resamples (100 to 1,000,000).",
    ),
]


# A seed is written into the JSON output as a 64-bit integer, and numpy takes no negative one.
SEED_MAX = 2**63 - 1
SeedOption = Annotated[
    int,
    typer.Option(
        "--seed", min=0, max=SEED_MAX, metavar="N", rich_help_panel=STATISTICS, help="Bootstrap seed."
    ),
]


IgnoreScriptOption = Annotated[
    list[str] | None,
    typer.Option(
        "--ignore-script",
        metavar="SCRIPT",
        rich_help_panel=MEASUREMENT,
        help="Leave a script's letters out of the language-mixing measurements, as langmix does, e.g. Greek "
        "math variables (repeatable; any case).",
    ),
]


def announce_measuring(parts: int) -> None:
    say(
        f"cotlens: measuring {parts} part file(s) stored without intrinsic measurements (once, as `cotlens measure`)"
    )


def measured(store: str, analysis: Callable[[], T]) -> T:
    """The step before an analysis reads stored measurements: part files stored without them (an older
    cotlens, ingest --defer-measure) are measured first, once, and that is announced on stderr."""
    from cotlens.intrinsic import run_measured

    return run_measured(Store(store), analysis, announce_measuring)


def render_result(result: Result, format_: str, store: str) -> None:
    """stdout gets the data, with the store's fingerprint; what a format leaves out is said on stderr."""
    from cotlens.store import store_fingerprint

    result.store_fingerprint = store_fingerprint(Store(store))
    if format_ == OutputFormat.csv and result.json_sections():
        titles = ", ".join(s.title.lower() for s in result.sections)
        say(f"cotlens: warning: CSV holds the main table; --format json also has: {titles}")
    render(result, format_, stdout_console())


def selection_from(
    models: list[str] | None, datasets: list[str] | None, kinds: list[str] | None
) -> Selection:
    return Selection(tuple(models or ()), tuple(datasets or ()), tuple(kinds or ("raw", "summary")))


def ignored_scripts(names: list[str] | None) -> frozenset[str]:
    """--ignore-script values, checked: an unknown script (or Latin) is a usage error naming the known ones."""
    from cotlens.measure.scripts import resolve_scripts

    try:
        return resolve_scripts(names or ())
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--ignore-script") from None


def check_choice(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise typer.BadParameter(f"{option} {value!r}: choose one of {', '.join(choices)}")
    return value
