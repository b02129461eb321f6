"""The command line. Each command parses options, calls one library function, renders, and exits.
This is the only module that knows exit codes: 0 ok, 1 data or runtime error, 2 usage error, 3 a gate failed
(`ingest --strict` with rejects), 130 interrupted."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pyarrow import ArrowException
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
from rich.table import Table
from rich.text import Text

# typer ships its own copy of click: its exception classes live there.
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer._click.exceptions import UsageError as ClickUsageError
from typer.core import TyperGroup

from cotlens import __version__
from cotlens.errors import CotlensError, UsageError
from cotlens.escape import json_bytes, printable
from cotlens.groups import IntervalOptions
from cotlens.limits import DOCUMENT_BYTES, MB, RECORD_BYTES, Limits
from cotlens.progress import listening
from cotlens.render import MISSING, OutputFormat, render, rich_table
from cotlens.result import Result
from cotlens.runtime import debugging
from cotlens.runtime.engine import use_engine
from cotlens.scan import Selection
from cotlens.stats import DEFAULT_RESAMPLES
from cotlens.store import DEFAULT_STORE, Store, first_line

if TYPE_CHECKING:
    from cotlens.ingest import IngestResult

# Commands import what they use inside themselves: every command pays for the CLI's imports at start-up, and
# ingest's (parsers, tokenizer, polars) would cost every analysis their time (bench/README.md).

EXIT_ERROR, EXIT_USAGE, EXIT_GATE, EXIT_INTERRUPTED = 1, 2, 3, 130
T = TypeVar("T")


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
# Wide enough for paths and summaries on stderr when it goes to a file or pipe (rich would assume 80 columns).
# Data on stdout in a pipe takes the terminal's width when one is known (rich's default), else 80.
PIPE_WIDTH = 120


def stdout_console() -> Console:
    return _console(stderr=False)


def stderr_console() -> Console:
    return _console(stderr=True)


def _console(stderr: bool) -> Console:
    """A console on the current stream (tests swap them). Rich turns colour off when the stream is not a
    terminal or NO_COLOR is set."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if not stderr or stream.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(stderr=stderr, width=width)


def say(message: str) -> None:
    """One line on stderr, never wrapped, never interpreted as markup."""
    stderr_console().print(Text(message), soft_wrap=True)


StoreOption = Annotated[
    Path,
    typer.Option(
        "--store",
        envvar="COTLENS_STORE",
        show_default=True,
        metavar="PATH",
        rich_help_panel=SELECTION,
        help="Store directory (env COTLENS_STORE).",
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", rich_help_panel=OUTPUT, help="Output format: table, json, csv or md."),
]
EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        envvar="COTLENS_ENGINE",
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


def check_format(value: str) -> str:
    from cotlens.formats import registered_formats
    from cotlens.suggest import did_you_mean

    names = ["auto", *(f.name for f in registered_formats())]
    if value not in names:
        hint = did_you_mean(value, names) or f"; known: {', '.join(names)}"
        raise typer.BadParameter(f"unknown input format {value!r}{hint}")
    return value


def parse_tags(values: list[str]) -> dict[str, str]:
    tags = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--tag wants KEY=VALUE, got {value!r}")
        tags[key] = val
    return tags


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


# Work shorter than this shows no bar.
PROGRESS_DELAY = 2.0


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


@app.command("ingest")
def ingest_command(
    paths: Annotated[
        list[str], typer.Argument(help="Files or directories to read (recursively); - for stdin.")
    ],
    store: StoreOption = Path(DEFAULT_STORE),
    from_: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="FORMAT",
            callback=check_format,
            help="Input shape: auto (sniff each record) or a registered name: inspect, openai-responses, "
            "openai-chat, cotlens-export, gemini, anthropic, ollama, chat-messages, sharegpt, reasoning-content, "
            "openrouter, harmony, think-tags, generic (cotlens sniff shows what each input is).",
        ),
    ] = "auto",
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="PATH|KEY=PATH",
            help="Declarative mapping for odd shapes: a TOML "
            "file or KEY=PATH (repeatable; see README, 'Odd shapes').",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(metavar="NAME", help="Model name for every record (supplies or overrides).")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(metavar="NAME", help="Dataset name for every record.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option(metavar="KEY=VALUE", help="Tag every record KEY=VALUE (repeatable).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Exit 3 when any record was rejected.")] = False,
    json_: Annotated[
        bool, typer.Option("--json", metavar="", help="Print the summary as JSON on stdout.")
    ] = False,
    defer_measure: Annotated[
        bool,
        typer.Option(
            "--defer-measure",
            metavar="",
            help="Skip the intrinsic measurements now (about 4x faster); the first analysis or `cotlens measure` adds them.",
        ),
    ] = False,
    max_record_mb: Annotated[
        float,
        typer.Option(
            "--max-record-mb",
            min=0.001,
            help="Largest record read (a JSON Lines line, an archive member), decompressed; larger ones are rejected with their size.",
        ),
    ] = RECORD_BYTES / MB,
    max_document_mb: Annotated[
        float,
        typer.Option(
            "--max-document-mb",
            min=0.001,
            help="Largest JSON document read (a .json file of records), decompressed; a larger one is an input error.",
        ),
    ] = DOCUMENT_BYTES / MB,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Read transcripts into the store: every record added, a duplicate, or rejected with its reason."""
    from cotlens.formats.mapping import load_mapping
    from cotlens.ingest import IngestOptions, ingest

    with cli_errors(), use_engine(engine, ray_address):
        options = IngestOptions(
            fmt=from_,
            model=model,
            dataset=dataset,
            tags=parse_tags(tag or []),
            mapping=load_mapping(map_) if map_ else None,
            measure=not defer_measure,
            limits=Limits(int(max_record_mb * MB), int(max_document_mb * MB)),
        )
        err = stderr_console()
        progress = RichProgress(err) if err.is_terminal else None
        result = ingest(
            paths,
            Store(store),
            options,
            progress,
            on_wait=lambda: say("cotlens: waiting for another ingest into this store to finish"),
        )
    for warning in result.warnings:
        say(f"cotlens: warning: {printable(warning)}")
    print_ingest_summary(result)
    if not result.stored:
        say(f"cotlens: no input could be read: no store was created at {printable(str(store))}")
    if json_:
        sys.stdout.write(json_bytes(result.to_dict(), indent=True).decode() + "\n")
    for s in result.inputs:
        for message, warned in s.warnings.items():
            say(
                f"cotlens: warning: {printable(s.path)}: {printable(message)} "
                f"({warned.records} record(s), first at {printable(warned.first)})"
            )
    for failed in result.failed_inputs:
        say(f"cotlens: error: {printable(failed.path)}: {printable(failed.error or '')}")
    if result.failed_inputs:
        raise typer.Exit(EXIT_ERROR)
    if strict and result.totals["rejected"]:
        say(f"cotlens: error: --strict: {result.totals['rejected']} record(s) rejected")
        raise typer.Exit(EXIT_GATE)


def print_ingest_summary(result: IngestResult) -> None:
    table = Table(title="ingest", title_justify="left")
    widest = len(str(max((s.records for s in result.inputs), default=0)))
    for header in ("input", "format", "records", "added", "duplicate", "rejected", "repairs"):
        if header in ("input", "format", "repairs"):
            table.add_column(header, overflow="fold")  # a long path wraps, never loses characters
        else:  # a count is never cut or wrapped
            table.add_column(header, justify="right", no_wrap=True, min_width=widest)
    for s in result.inputs:
        table.add_row(
            Text(printable(s.path)),
            Text(", ".join(sorted(s.formats)) or ("error" if s.error else MISSING)),
            str(s.records),
            str(s.added),
            str(s.duplicate),
            str(s.rejected),
            Text(", ".join(f"{k} {v}" for k, v in sorted(s.repairs.items()))),
        )
    err = stderr_console()
    err.print(table)
    models = Table(title="by model", title_justify="left")
    for header in ("model", "added", "duplicate"):
        if header == "model":
            models.add_column(header, overflow="fold")
        else:
            models.add_column(header, justify="right", no_wrap=True, min_width=widest)
    for name, counts in sorted(result.models.items()):
        models.add_row(Text(printable(name)), str(counts.added), str(counts.duplicate))
    if result.models:
        err.print(models)
    totals = result.totals
    line = (
        f"{totals['added']} added, {totals['duplicate']} duplicate, {totals['rejected']} rejected "
        f"of {totals['records']} records"
    )
    if result.rejects_file:
        line += f"; rejects in {printable(str(Path(result.store) / result.rejects_file))}"
    say(line)


@app.command("sniff")
def sniff_command(
    paths: Annotated[list[str], typer.Argument(help="Files or directories to look at; - for stdin.")],
    emit_map: Annotated[
        bool,
        typer.Option(
            "--emit-map", metavar="", help="Print the equivalent mapping as TOML (for ingest --map) instead."
        ),
    ] = False,
    limit: Annotated[
        int, typer.Option("--records", metavar="N", min=1, help="Records read per input.")
    ] = 1000,
    format_: FormatOption = OutputFormat.table,
) -> None:
    """What ingest would make of each input: shapes, field paths, records per shape, an example, warnings."""
    from cotlens.sniff import emitted_mappings, sniff_inputs

    with cli_errors():
        result = sniff_inputs(paths, limit)
    if emit_map:
        sys.stdout.write(emitted_mappings(result))
        return
    render(result, format_, stdout_console())


@app.command("models")
def models_command(
    store: StoreOption = Path(DEFAULT_STORE), format_: FormatOption = OutputFormat.table
) -> None:
    """What the store holds per model: transcripts, reasoning kinds, reported tokens, datasets."""
    with cli_errors():
        from cotlens.analyses.inventory import summarize_models

        result = summarize_models(Store(store))
    render_result(result, format_, store)


def run() -> int | str | None:
    """Run the command line and return its exit code (runtime.launch exits with it)."""
    try:
        app()
    except SystemExit as e:
        return e.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return 0


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
        metavar="N",
        rich_help_panel=STATISTICS,
        help="Bootstrap resamples (100 or more).",
    ),
]
SeedOption = Annotated[
    int, typer.Option("--seed", metavar="N", rich_help_panel=STATISTICS, help="Bootstrap seed.")
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


def measured(store: Path, analysis: Callable[[], T]) -> T:
    """The step before an analysis reads stored measurements: part files stored without them (an older
    cotlens, ingest --defer-measure) are measured first, once, and that is announced on stderr."""
    from cotlens.intrinsic import run_measured

    return run_measured(Store(store), analysis, announce_measuring)


def render_result(result: Result, format_: OutputFormat, store: Path) -> None:
    """stdout gets the data, with the store's fingerprint; what a format leaves out is said on stderr."""
    from cotlens.store import store_fingerprint

    result.store_fingerprint = store_fingerprint(Store(store))
    if format_ is OutputFormat.csv and result.json_sections():
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


@app.command("rates")
def rates_command(
    models: ModelsArgument = None,
    store: StoreOption = Path(DEFAULT_STORE),
    lexicon: Annotated[
        list[str] | None,
        typer.Option(
            "--lexicon",
            metavar="NAME|PATH",
            help="Built-in lexicon name or lexicon file (repeatable; default: all built-in).",
        ),
    ] = None,
    term: Annotated[
        list[str] | None,
        typer.Option("--term", metavar="TERM", help="A term to count (repeatable; re:REGEX too)."),
    ] = None,
    by: ByOption = "model",
    field: FieldOption = "reasoning",
    tokens: Annotated[
        str, typer.Option("--tokens", metavar="UNIT", help="Denominator: o200k, reported or words.")
    ] = "o200k",
    kind: KindOption = None,
    dataset: DatasetOption = None,
    substring: Annotated[
        bool,
        typer.Option(
            "--substring", metavar="", help="Count text.lower().count(term) instead of whole occurrences."
        ),
    ] = False,
    resamples: ResamplesOption = DEFAULT_RESAMPLES,
    seed: SeedOption = 0,
    format_: FormatOption = OutputFormat.table,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Term rates per 1000 tokens with bootstrap intervals, and prevalence, per model (or dataset, tag)."""
    from cotlens.analyses.rates import RateOptions, compute_rates
    from cotlens.lexicon import select_lexicons

    check_choice(field, ("reasoning", "answer"), "--field")
    check_choice(tokens, ("o200k", "reported", "words"), "--tokens")
    with cli_errors(), use_engine(engine, ray_address):
        lexicons = select_lexicons(lexicon or [], term or [], substring)
        intervals = IntervalOptions(resamples=resamples, seed=seed)
        options = RateOptions(by, field, tokens, substring, intervals)  # type: ignore[arg-type]
        selection = selection_from(models, dataset, kind)
        result = measured(store, lambda: compute_rates(Store(store), lexicons, selection, options))
    render_result(result, format_, store)


@app.command("langmix")
def langmix_command(
    models: ModelsArgument = None,
    store: StoreOption = Path(DEFAULT_STORE),
    by: ByOption = "model",
    field: FieldOption = "reasoning",
    scripts: Annotated[
        bool, typer.Option("--scripts", metavar="", help="A row per non-Latin script too.")
    ] = False,
    ignore_script: IgnoreScriptOption = None,
    examples: Annotated[
        int,
        typer.Option(
            "--examples", metavar="N", min=0, help="Show up to N code-switch spans per group in context."
        ),
    ] = 0,
    kind: KindOption = None,
    dataset: DatasetOption = None,
    resamples: ResamplesOption = DEFAULT_RESAMPLES,
    seed: SeedOption = 0,
    format_: FormatOption = OutputFormat.table,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Language mixing per model: non-Latin token and letter shares, transcripts with mixing, code-switch spans."""
    from cotlens.analyses.langmix import LangmixOptions, compute_langmix

    check_choice(field, ("reasoning", "answer"), "--field")
    ignore = ignored_scripts(ignore_script)
    with cli_errors(), use_engine(engine, ray_address):
        intervals = IntervalOptions(resamples=resamples, seed=seed)
        options = LangmixOptions(by, field, scripts, ignore, examples, intervals)
        selection = selection_from(models, dataset, kind)
        result = measured(store, lambda: compute_langmix(Store(store), selection, options))
    render_result(result, format_, store)


@app.command("loops")
def loops_command(
    models: ModelsArgument = None,
    store: StoreOption = Path(DEFAULT_STORE),
    by: ByOption = "model",
    field: FieldOption = "reasoning",
    ignore_script: IgnoreScriptOption = None,
    kind: KindOption = None,
    dataset: DatasetOption = None,
    resamples: ResamplesOption = DEFAULT_RESAMPLES,
    seed: SeedOption = 0,
    format_: FormatOption = OutputFormat.table,
) -> None:
    """Repetition per model: Gopher statistics and thresholds, loop share, non-Latin tokens inside vs outside loops."""
    from cotlens.analyses.loops import LoopOptions, compute_loops

    check_choice(field, ("reasoning", "answer"), "--field")
    ignore = ignored_scripts(ignore_script)
    with cli_errors():
        options = LoopOptions(by, field, IntervalOptions(resamples=resamples, seed=seed), ignore=ignore)
        selection = selection_from(models, dataset, kind)
        result = measured(store, lambda: compute_loops(Store(store), selection, options))
    render_result(result, format_, store)


@app.command("compare")
def compare_command(
    models: Annotated[
        list[str],
        typer.Argument(help="The baseline model, then the models to compare with it.", show_default=False),
    ],
    store: StoreOption = Path(DEFAULT_STORE),
    lexicon: Annotated[
        list[str] | None,
        typer.Option(
            "--lexicon",
            metavar="NAME|PATH",
            help="Lexicons whose totals and terms to compare (default: built-in totals).",
        ),
    ] = None,
    term: Annotated[
        list[str] | None, typer.Option("--term", metavar="TERM", help="A term to compare (repeatable).")
    ] = None,
    field: FieldOption = "reasoning",
    fields: Annotated[
        str | None,
        typer.Option(
            "--fields",
            metavar="FIELD,FIELD",
            help="reasoning,answer: one model's reasoning against its answers.",
        ),
    ] = None,
    top_terms: Annotated[
        int,
        typer.Option(
            "--top-terms", metavar="N", min=0, help="With the default lexicons: the N terms that differ most."
        ),
    ] = 5,
    fail_if: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-if",
            metavar="GATE",
            help="A gate, e.g. 'ratio(nonlatin_token_share) > 2' (repeatable; exit 3).",
        ),
    ] = None,
    ignore_script: IgnoreScriptOption = None,
    kind: KindOption = None,
    dataset: DatasetOption = None,
    resamples: ResamplesOption = DEFAULT_RESAMPLES,
    seed: SeedOption = 0,
    format_: FormatOption = OutputFormat.table,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Models side by side (or one model's reasoning against its answers): values, ratios, adjusted p-values, CI gates."""
    from cotlens.analyses.compare import CompareOptions, compare, metric_keys
    from cotlens.gates import check_gates, parse_gate
    from cotlens.lexicon import select_lexicons

    check_choice(field, ("reasoning", "answer"), "--field")
    pair = _fields_pair(fields)
    ignore = ignored_scripts(ignore_script)
    with cli_errors(), use_engine(engine, ray_address):
        lexicons = select_lexicons(lexicon or [], term or [])
        gates = [parse_gate(g, metric_keys(lexicons)) for g in fail_if or []]
        intervals = IntervalOptions(resamples=resamples, seed=seed)
        options = CompareOptions(field, pair, top_terms, bool(lexicon or term), intervals, ignore)
        selection = selection_from(list(dict.fromkeys(models)), dataset, kind)
        comparison = measured(store, lambda: compare(Store(store), models, lexicons, selection, options))
    if gates:
        comparison.result.gates = check_gates(gates, comparison.records)
    render_result(comparison.result, format_, store)
    failed = [line for gate in gates for line in gate.failures(comparison.records)]
    for line in failed:
        say(f"cotlens: gate failed: {printable(line)}")
    if failed:
        raise typer.Exit(EXIT_GATE)


def _fields_pair(fields: str | None) -> tuple[str, str] | None:
    if fields is None:
        return None
    pair = tuple(f.strip() for f in fields.split(","))
    if sorted(pair) != ["answer", "reasoning"]:
        raise typer.BadParameter(f"--fields {fields!r}: use reasoning,answer (or answer,reasoning)")
    return (pair[0], pair[1])


@app.command("filter")
def filter_command(
    models: ModelsArgument = None,
    store: StoreOption = Path(DEFAULT_STORE),
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            metavar="EXPR",
            help="A condition every kept transcript meets, e.g. 'not loop' (repeatable).",
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            metavar="PATH",
            help="Kept transcripts: FILE.jsonl, FILE.parquet, DIR/ (Parquet files), or - for stdout.",
        ),
    ] = None,
    exclusions: Annotated[
        str | None,
        typer.Option(
            "--exclusions",
            metavar="PATH",
            help="Where dropped transcripts go (default OUT.exclusions.jsonl).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", metavar="", help="Only count what would be kept and dropped.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", metavar="", help="Replace existing output files.")
    ] = False,
    original: Annotated[
        bool,
        typer.Option(
            "--original",
            metavar="",
            help="Write the kept transcripts' input records as read (JSON Lines inputs).",
        ),
    ] = False,
    field: FieldOption = "reasoning",
    ignore_script: IgnoreScriptOption = None,
    lexicon: Annotated[
        list[str] | None,
        typer.Option("--lexicon", metavar="NAME|PATH", help="Lexicons that rate(...) conditions may name."),
    ] = None,
    term: Annotated[
        list[str] | None, typer.Option("--term", metavar="TERM", help="Terms that rate(terms:...) may name.")
    ] = None,
    kind: KindOption = None,
    dataset: DatasetOption = None,
    json_: Annotated[bool, typer.Option("--json", metavar="", help="The summary as JSON on stdout.")] = False,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Write the transcripts that meet every --where condition; list each other one with the condition it failed."""
    from cotlens.analyses.compare import metric_keys
    from cotlens.analyses.filter import FilterOptions, run_filter
    from cotlens.conditions import parse_condition
    from cotlens.lexicon import select_lexicons
    from cotlens.render.exports import Exports

    check_choice(field, ("reasoning", "answer"), "--field")
    if (out is None) == (not dry_run):
        raise typer.BadParameter("give --out PATH (or - for stdout), or --dry-run")
    if json_ and out == "-":
        raise typer.BadParameter("--json prints the summary on stdout: it cannot share it with --out -")
    ignore = ignored_scripts(ignore_script)
    with cli_errors(), use_engine(engine, ray_address):
        lexicons = select_lexicons(lexicon or [], term or [])
        rate_keys = [k for k in metric_keys(lexicons) if k in {lex.name for lex in lexicons} or ":" in k]
        conditions = [parse_condition(w, rate_keys) for w in where or []]
        options = FilterOptions(field, ignore, None if dry_run else out, exclusions, force, original)
        selection = selection_from(models, dataset, kind)
        sink = None if options.out is None else Exports(options)
        summary = measured(
            store, lambda: run_filter(Store(store), selection, conditions, lexicons, options, sink=sink)
        )
    if json_:
        render_result(summary, OutputFormat.json, store)
    else:
        err = stderr_console()
        err.print(rich_table(summary, err.width))


@app.command("keywords")
def keywords_command(
    model: Annotated[
        str, typer.Argument(help="The model whose over-used words to find.", show_default=False)
    ],
    store: StoreOption = Path(DEFAULT_STORE),
    vs: Annotated[
        str,
        typer.Option(
            "--vs", metavar="webtext|MODEL", help="webtext (wordfreq's English list) or another model."
        ),
    ] = "webtext",
    top: Annotated[
        int, typer.Option("--top", metavar="N", min=1, help="Words shown (per side against a model).")
    ] = 25,
    min_count: Annotated[
        int, typer.Option("--min-count", metavar="N", min=1, help="Least occurrences of a word.")
    ] = 5,
    min_transcripts: Annotated[
        int,
        typer.Option(
            "--min-transcripts", metavar="N", min=1, help="Least distinct transcripts a word occurs in."
        ),
    ] = 3,
    numbers: Annotated[bool, typer.Option("--numbers", metavar="", help="Keep words with a digit.")] = False,
    no_stop_words: Annotated[
        bool,
        typer.Option("--no-stop-words", metavar="", help="Leave out the 100 most frequent English words."),
    ] = False,
    field: FieldOption = "reasoning",
    ignore_script: IgnoreScriptOption = None,
    kind: KindOption = None,
    dataset: DatasetOption = None,
    format_: FormatOption = OutputFormat.table,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """The words a model over-uses, against English web text or against another model."""
    from cotlens.analyses.keywords import KeywordOptions, compute_keywords

    check_choice(field, ("reasoning", "answer"), "--field")
    ignore = ignored_scripts(ignore_script)
    with cli_errors(), use_engine(engine, ray_address):
        options = KeywordOptions(
            vs, top, min_count, min_transcripts, field, numbers, not no_stop_words, ignore
        )
        result = compute_keywords(Store(store), model, selection_from([model], dataset, kind), options)
    render_result(result, format_, store)


@app.command("kwic")
def kwic_command(
    term: Annotated[
        str, typer.Argument(help="The term to show in context (re:REGEX too).", show_default=False)
    ],
    models: ModelsArgument = None,
    store: StoreOption = Path(DEFAULT_STORE),
    limit: Annotated[int, typer.Option("--limit", metavar="N", min=1, help="Lines shown.")] = 20,
    width: Annotated[
        int, typer.Option("--width", metavar="N", min=2, help="Display columns of context on each side.")
    ] = 40,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample", metavar="", help="A seeded random sample of all occurrences, not the first ones."
        ),
    ] = False,
    seed: Annotated[
        int,
        typer.Option("--seed", metavar="N", rich_help_panel=STATISTICS, help="Seed of the --sample draw."),
    ] = 0,
    substring: Annotated[
        bool,
        typer.Option(
            "--substring", metavar="", help="Find term.lower() in text.lower() instead of whole occurrences."
        ),
    ] = False,
    field: FieldOption = "reasoning",
    kind: KindOption = None,
    dataset: DatasetOption = None,
    format_: FormatOption = OutputFormat.table,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Keyword in context: each occurrence of a term on one line, with its model and source."""
    from cotlens.analyses.kwic import KwicOptions, compute_kwic
    from cotlens.measure.terms import parse_term

    check_choice(field, ("reasoning", "answer"), "--field")
    with cli_errors(), use_engine(engine, ray_address):
        options = KwicOptions(field, limit, width, sample, seed)
        selection = selection_from(models, dataset, kind)
        result = compute_kwic(Store(store), parse_term(term, substring), selection, options)
    render_result(result, format_, store)


@app.command("measure")
def measure_command(
    store: StoreOption = Path(DEFAULT_STORE),
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Compute the intrinsic measurements that parts made by an older cotlens or ingest --defer-measure lack."""
    with cli_errors(), use_engine(engine, ray_address):
        from cotlens.intrinsic import measure_store

        done = measure_store(
            Store(store), on_wait=lambda: say("cotlens: waiting for another writer to finish")
        )
    say(
        f"{done['rows_measured']} transcripts measured in {done['parts_measured']} of {done['parts']} part files"
    )


@app.command("show")
def show_command(
    reference: Annotated[
        str,
        typer.Argument(
            help="A transcript id, 8+ hex digits of one, or SOURCE:LOCATOR (as kwic and langmix print them).",
            show_default=False,
        ),
    ],
    store: StoreOption = Path(DEFAULT_STORE),
    lexicon: Annotated[
        list[str] | None,
        typer.Option(
            "--lexicon",
            metavar="NAME|PATH",
            help="Lexicons whose terms to highlight (repeatable; default: all built-in).",
        ),
    ] = None,
    term: Annotated[
        list[str] | None, typer.Option("--term", metavar="TERM", help="A term to highlight (repeatable).")
    ] = None,
    plain: Annotated[
        bool, typer.Option("--plain", metavar="", help="No colours or highlight styles (for a pipe).")
    ] = False,
    format_: Annotated[str, typer.Option("--format", help="Output format: text or json.")] = "text",
) -> None:
    """One whole transcript (prompt, reasoning, answer, kind, tags, measurements) with its term hits,
    code-switch spans and loop highlighted."""
    from cotlens.analyses.show import show_transcript
    from cotlens.lexicon import select_lexicons
    from cotlens.render.transcript import transcript_renderable
    from cotlens.store import store_fingerprint

    check_choice(format_, ("text", "json"), "--format")
    with cli_errors():
        where = Store(store)
        shown = show_transcript(where, reference, select_lexicons(lexicon or [], term or []))
    if format_ == "json":
        sys.stdout.write(json_bytes(shown.document(store_fingerprint(where)), indent=True).decode() + "\n")
        return
    console = stdout_console()
    if plain:
        console = Console(width=console.width, no_color=True, highlight=False, color_system=None)
    console.print(transcript_renderable(shown, plain), highlight=False)


PLOT_KINDS = ("rates", "compare", "langmix", "loops")


@app.command("plot")
def plot_command(
    kind: Annotated[str, typer.Argument(help="rates, compare, langmix or loops.", show_default=False)],
    models: Annotated[
        list[str] | None,
        typer.Argument(
            help="Models (compare: the baseline first; default: every model).", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="PATH", help="The figure: FILE.svg, FILE.png or FILE.pdf.", show_default=False
        ),
    ] = Path("figure.svg"),
    store: StoreOption = Path(DEFAULT_STORE),
    lexicon: Annotated[
        list[str] | None,
        typer.Option("--lexicon", metavar="NAME|PATH", help="rates, compare: lexicons (as in rates)."),
    ] = None,
    term: Annotated[
        list[str] | None, typer.Option("--term", metavar="TERM", help="rates, compare: a term (repeatable).")
    ] = None,
    terms: Annotated[
        bool, typer.Option("--terms", metavar="", help="rates: a row per term, not per lexicon.")
    ] = False,
    substring: Annotated[
        bool,
        typer.Option(
            "--substring", metavar="", help="rates: count text.lower().count(term), as rates --substring."
        ),
    ] = False,
    top_terms: Annotated[
        int,
        typer.Option(
            "--top-terms",
            metavar="N",
            min=0,
            help="compare: the N terms that differ most (default lexicons).",
        ),
    ] = 5,
    statistic: Annotated[
        str | None, typer.Option("--statistic", help="loops: one Gopher statistic (default: all of them).")
    ] = None,
    by: ByOption = "model",
    field: FieldOption = "reasoning",
    tokens: Annotated[
        str, typer.Option("--tokens", metavar="UNIT", help="rates: o200k, reported or words.")
    ] = "o200k",
    ignore_script: Annotated[
        list[str] | None, typer.Option("--ignore-script", help="langmix: leave a script out (repeatable).")
    ] = None,
    kind_: KindOption = None,
    dataset: DatasetOption = None,
    resamples: ResamplesOption = DEFAULT_RESAMPLES,
    seed: SeedOption = 0,
) -> None:
    """A figure for a paper: rates (forest plot), compare (ratios), langmix (script bars), loops (distributions
    with thresholds); the same options as the analysis, the same figures as the report."""
    from cotlens.analyses.plot import PlotOptions, draw

    check_choice(kind, PLOT_KINDS, "KIND")
    fmt = out.suffix.lower().lstrip(".")
    check_choice(fmt, ("svg", "png", "pdf"), "--out's suffix")
    check_choice(field, ("reasoning", "answer"), "--field")
    ignore = ignored_scripts(ignore_script)
    with cli_errors():
        intervals = IntervalOptions(resamples=resamples, seed=seed)
        options = PlotOptions(by, field, tokens, terms, statistic, ignore, intervals, substring, top_terms)
        selection = selection_from(models, dataset, kind_)
        data = measured(
            store,
            lambda: draw(
                kind, Store(store), models or [], lexicon or [], term or [], selection, options, fmt
            ),
        )
        try:
            out.write_bytes(data)
        except OSError as e:
            raise CotlensError(f"cannot write {out}: {e.strerror}") from None
    say(f"cotlens: wrote {printable(str(out))}")


@app.command("report")
def report_command(
    models: ModelsArgument = None,
    out: Annotated[Path, typer.Option("--out", metavar="PATH", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    store: StoreOption = Path(DEFAULT_STORE),
    lexicon: Annotated[
        list[str] | None,
        typer.Option(
            "--lexicon", metavar="NAME|PATH", help="Lexicons to rate (repeatable; default: all built-in)."
        ),
    ] = None,
    term: Annotated[
        list[str] | None, typer.Option("--term", metavar="TERM", help="A term to rate (repeatable).")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Compare every other model with this one.")
    ] = None,
    fail_if: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-if",
            metavar="GATE",
            help="A compare gate (needs --baseline; repeatable; exit 3 when one fails).",
        ),
    ] = None,
    ignore_script: Annotated[
        list[str] | None,
        typer.Option("--ignore-script", help="Leave a script out of language mixing (repeatable)."),
    ] = None,
    examples: Annotated[
        int, typer.Option("--examples", metavar="N", min=0, help="Example transcripts per model and finding.")
    ] = 2,
    field: FieldOption = "reasoning",
    kind: KindOption = None,
    dataset: DatasetOption = None,
    resamples: ResamplesOption = DEFAULT_RESAMPLES,
    seed: SeedOption = 0,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """One self-contained HTML report: overview, rates, compare, language mixing, repetition, keywords and
    highlighted example transcripts."""
    from cotlens.analyses.report import ReportOptions, make_report
    from cotlens.lexicon import select_lexicons

    check_choice(field, ("reasoning", "answer"), "--field")
    ignore = ignored_scripts(ignore_script)
    with cli_errors(), use_engine(engine, ray_address):
        options = ReportOptions(
            field,
            baseline,
            tuple(fail_if or ()),
            ignore,
            examples,
            seed,
            IntervalOptions(resamples=resamples, seed=seed),
        )
        selection = selection_from(models, dataset, kind)
        lexicons = select_lexicons(lexicon or [], term or [])
        report, page = measured(store, lambda: make_report(Store(store), selection, lexicons, options))
        try:
            out.write_text(page, encoding="utf-8")
        except OSError as e:
            raise CotlensError(f"cannot write {out}: {e.strerror}") from None
    stdout_console().print(Text(printable(str(out))), soft_wrap=True)
    for line in report.gate_failures:
        say(f"cotlens: gate failed: {printable(line)}")
    if report.gate_failures:
        raise typer.Exit(EXIT_GATE)


# Each command's help ends with real examples (they run on the demo store: `make demo`).
EXAMPLES: dict[str, list[str]] = {
    "ingest": [
        "cotlens ingest fixtures/demo/*.jsonl --store demo-store",
        "cotlens ingest runs/ --from openai-chat --model my-model --tag effort=high",
        "cat dump.jsonl | cotlens ingest - --map research-dump.toml --strict",
    ],
    "sniff": [
        "cotlens sniff fixtures/demo/orion-3.jsonl",
        "cotlens sniff dump.jsonl --emit-map > dump.toml",
    ],
    "models": ["cotlens models --store demo-store", "cotlens models --format json"],
    "rates": [
        "cotlens rates --store demo-store --lexicon o3-dialect",
        "cotlens rates orion-3 lumen-mix --term Redwood --term 're:over\\w+' --by tag:effort",
        "cotlens rates --lexicon epistemic --substring --format csv",
    ],
    "langmix": [
        "cotlens langmix --store demo-store --scripts --examples 2",
        "cotlens langmix plain-7b --ignore-script Greek --format json",
    ],
    "loops": [
        "cotlens loops --store demo-store",
        "cotlens loops lumen-mix --format md",
        "cotlens loops plain-7b --ignore-script greek",
    ],
    "compare": [
        "cotlens compare orion-3 lumen-mix plain-7b --store demo-store",
        "cotlens compare lumen-mix --fields reasoning,answer --lexicon voice",
        "cotlens compare orion-3 lumen-mix --format md --fail-if 'ratio(nonlatin_token_share) > 2'",
    ],
    "filter": [
        "cotlens filter --store demo-store --dry-run --where 'not loop' --where 'codeswitch_spans == 0'",
        "cotlens filter --out clean.jsonl --ignore-script Greek --where 'not truncated'",
    ],
    "keywords": [
        "cotlens keywords orion-3 --store demo-store --top 10",
        "cotlens keywords lumen-mix --vs orion-3 --top 10",
    ],
    "kwic": [
        "cotlens kwic marinade --store demo-store",
        "cotlens kwic 're:over\\w+' --field answer --width 60",
        "cotlens kwic 检查 --sample --seed 3 --limit 10",
    ],
    "measure": ["cotlens measure --store demo-store"],
    "show": [
        "cotlens show fixtures/demo/orion-3.jsonl:line 5 --store demo-store",
        "cotlens show TRANSCRIPT_ID --format json",
    ],
    "plot": [
        "cotlens plot rates --store demo-store --lexicon o3-dialect --out rates.svg",
        "cotlens plot compare orion-3 lumen-mix --out compare.png",
    ],
    "report": [
        "cotlens report --store demo-store --out report.html",
        "cotlens report --baseline orion-3 --fail-if 'ratio(nonlatin_token_share) > 2'",
    ],
}


def _with_examples() -> None:
    """Each registered command's help epilog: its examples, one a paragraph (rich reflows single lines)."""
    for info in app.registered_commands:
        lines = EXAMPLES.get(info.name or "", [])
        if lines:
            info.epilog = "[b]Examples[/b]\n\n" + "\n\n".join(f"  {printable(line)}" for line in lines)


_with_examples()
