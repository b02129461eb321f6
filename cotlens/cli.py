"""The command line. Each command parses options, calls one library function, renders, and exits.
This is the only module that knows exit codes: 0 ok, 1 data or runtime error, 2 usage error, 3 a gate failed
(`ingest --strict` with rejects), 130 interrupted."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
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
from cotlens.groups import IntervalOptions
from cotlens.progress import listening
from cotlens.render import MISSING, OutputFormat, render, rich_table
from cotlens.render.escape import json_bytes, printable
from cotlens.result import Result
from cotlens.scan import Selection
from cotlens.stats import DEFAULT_RESAMPLES
from cotlens.store import DEFAULT_STORE, Store

if TYPE_CHECKING:
    from cotlens.ingest import IngestResult

# Commands import what they use inside themselves: every command pays for the CLI's imports at start-up, and
# ingest's (parsers, tokenizer, polars) cost an analysis a third of a second.

EXIT_ERROR, EXIT_USAGE, EXIT_GATE, EXIT_INTERRUPTED = 1, 2, 3, 130


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
            if os.environ.get("COTLENS_DEBUG"):
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
    add_completion=False,
    pretty_exceptions_enable=False,
)
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
        "--store", envvar="COTLENS_STORE", show_default=True, help="Store directory (env COTLENS_STORE)."
    ),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]


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


def version_callback(value: bool) -> None:
    if value:
        stdout_console().print(f"cotlens {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Print the version and exit."
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
            TextColumn("{task.description}"),
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
            callback=check_format,
            help="Input shape: auto (sniff each record) or a registered name.",
        ),
    ] = "auto",
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Declarative mapping for odd shapes: a TOML "
            "file or KEY=PATH (repeatable; see README, 'Odd shapes').",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model name for every record (supplies or overrides).")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset name for every record.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Tag every record KEY=VALUE (repeatable).")] = None,
    strict: Annotated[bool, typer.Option(help="Exit 3 when any record was rejected.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    defer_measure: Annotated[
        bool,
        typer.Option(
            "--defer-measure",
            help="Skip the intrinsic measurements now (about 4x faster); the first analysis or `cotlens measure` adds them.",
        ),
    ] = False,
) -> None:
    """Read transcripts into the store: every record added, a duplicate, or rejected with its reason."""
    from cotlens.formats.mapping import load_mapping
    from cotlens.ingest import IngestOptions, ingest

    with cli_errors():
        options = IngestOptions(
            fmt=from_,
            model=model,
            dataset=dataset,
            tags=parse_tags(tag or []),
            mapping=load_mapping(map_) if map_ else None,
            measure=not defer_measure,
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
    print_ingest_summary(result)
    if json_:
        sys.stdout.write(json_bytes(result.to_dict(), indent=True).decode() + "\n")
    for failed in result.failed_inputs:
        say(f"cotlens: error: {printable(failed.path)}: {printable(failed.error or '')}")
    if result.failed_inputs:
        raise typer.Exit(EXIT_ERROR)
    if strict and result.totals["rejected"]:
        say(f"cotlens: error: --strict: {result.totals['rejected']} record(s) rejected")
        raise typer.Exit(EXIT_GATE)


def print_ingest_summary(result: IngestResult) -> None:
    table = Table(title="ingest", title_justify="left")
    for header in ("input", "format", "records", "added", "duplicate", "rejected", "repairs"):
        table.add_column(header, justify="left" if header in ("input", "format", "repairs") else "right")
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
        models.add_column(header, justify="left" if header == "model" else "right")
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
        line += f"; rejects in {Path(result.store) / result.rejects_file}"
    say(line)


@app.command("models")
def models_command(
    store: StoreOption = Path(DEFAULT_STORE), format_: FormatOption = OutputFormat.table
) -> None:
    """What the store holds per model: transcripts, reasoning kinds, reported tokens, datasets."""
    with cli_errors():
        from cotlens.inventory import summarize_models

        result = summarize_models(Store(store))
    render_result(result, format_, store)


def main() -> None:
    try:
        app()
        code: int | str | None = 0
    except SystemExit as e:
        code = e.code
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    leave(code)


def leave(code: int | str | None) -> None:
    """Exit now, as sys.exit(code) would, without the interpreter's teardown: freeing polars', Arrow's and
    numpy's modules takes 0.2-0.3 s, and by now every output is written, every file closed, every worker gone
    (the server workers fork from exits when this process does). Under a profiler or a coverage tracer, which
    write their results at teardown, it exits as usual."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    if isinstance(code, str):
        say(code)
    for stream in (sys.stdout, sys.stderr):
        # BrokenPipeError: the reader went away; ValueError: the stream is closed. Nothing left to deliver.
        with contextlib.suppress(BrokenPipeError, ValueError):
            stream.flush()
    os._exit(code if isinstance(code, int) else 1 if isinstance(code, str) else 0)


ModelsArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Models to include (default: every model in the store).", show_default=False),
]
DatasetOption = Annotated[
    list[str] | None, typer.Option("--dataset", help="Only these datasets (repeatable).")
]
KindOption = Annotated[
    list[str] | None,
    typer.Option(
        "--kind", help="Reasoning kinds to include (repeatable; default raw and summary, reported apart)."
    ),
]
FieldOption = Annotated[str, typer.Option("--field", help="Text to measure: reasoning or answer.")]
ByOption = Annotated[str, typer.Option("--by", help="Group by model, dataset or tag:KEY.")]
ResamplesOption = Annotated[int, typer.Option("--resamples", min=100, help="Bootstrap resamples.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Bootstrap seed.")]
IgnoreScriptOption = Annotated[
    list[str] | None,
    typer.Option(
        "--ignore-script",
        help="Leave a script's letters out of the language-mixing measurements, as langmix does, e.g. Greek "
        "math variables (repeatable; any case).",
    ),
]


def announce_measuring(parts: int) -> None:
    say(
        f"cotlens: measuring {parts} part file(s) stored without intrinsic measurements (once, as `cotlens measure`)"
    )


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
            "--lexicon", help="Built-in lexicon name or lexicon file (repeatable; default: all built-in)."
        ),
    ] = None,
    term: Annotated[
        list[str] | None, typer.Option("--term", help="A term to count (repeatable; re:REGEX too).")
    ] = None,
    by: ByOption = "model",
    field: FieldOption = "reasoning",
    tokens: Annotated[str, typer.Option("--tokens", help="Denominator: o200k, reported or words.")] = "o200k",
    kind: KindOption = None,
    dataset: DatasetOption = None,
    substring: Annotated[
        bool, typer.Option("--substring", help="Count text.lower().count(term) instead of whole occurrences.")
    ] = False,
    resamples: ResamplesOption = DEFAULT_RESAMPLES,
    seed: SeedOption = 0,
    format_: FormatOption = OutputFormat.table,
) -> None:
    """Term rates per 1000 tokens with bootstrap intervals, and prevalence, per model (or dataset, tag)."""
    from cotlens.lexicon import select_lexicons
    from cotlens.rates import RateOptions, compute_rates

    check_choice(field, ("reasoning", "answer"), "--field")
    check_choice(tokens, ("o200k", "reported", "words"), "--tokens")
    with cli_errors():
        lexicons = select_lexicons(lexicon or [], term or [], substring)
        intervals = IntervalOptions(resamples=resamples, seed=seed)
        options = RateOptions(by, field, tokens, substring, intervals)  # type: ignore[arg-type]
        selection = selection_from(models, dataset, kind)
        result = compute_rates(Store(store), lexicons, selection, options, on_measure=announce_measuring)
    render_result(result, format_, store)


@app.command("langmix")
def langmix_command(
    models: ModelsArgument = None,
    store: StoreOption = Path(DEFAULT_STORE),
    by: ByOption = "model",
    field: FieldOption = "reasoning",
    scripts: Annotated[bool, typer.Option("--scripts", help="A row per non-Latin script too.")] = False,
    ignore_script: IgnoreScriptOption = None,
    examples: Annotated[
        int, typer.Option("--examples", min=0, help="Show up to N code-switch spans per group in context.")
    ] = 0,
    kind: KindOption = None,
    dataset: DatasetOption = None,
    resamples: ResamplesOption = DEFAULT_RESAMPLES,
    seed: SeedOption = 0,
    format_: FormatOption = OutputFormat.table,
) -> None:
    """Language mixing per model: non-Latin token and letter shares, transcripts with mixing, code-switch spans."""
    from cotlens.langmix import LangmixOptions, compute_langmix

    check_choice(field, ("reasoning", "answer"), "--field")
    ignore = ignored_scripts(ignore_script)
    with cli_errors():
        intervals = IntervalOptions(resamples=resamples, seed=seed)
        options = LangmixOptions(by, field, scripts, ignore, examples, intervals)
        result = compute_langmix(
            Store(store), selection_from(models, dataset, kind), options, on_measure=announce_measuring
        )
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
    from cotlens.loops import LoopOptions, compute_loops

    check_choice(field, ("reasoning", "answer"), "--field")
    ignore = ignored_scripts(ignore_script)
    with cli_errors():
        options = LoopOptions(by, field, IntervalOptions(resamples=resamples, seed=seed), ignore)
        selection = selection_from(models, dataset, kind)
        result = compute_loops(Store(store), selection, options, on_measure=announce_measuring)
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
            "--lexicon", help="Lexicons whose totals and terms to compare (default: built-in totals)."
        ),
    ] = None,
    term: Annotated[list[str] | None, typer.Option("--term", help="A term to compare (repeatable).")] = None,
    field: FieldOption = "reasoning",
    fields: Annotated[
        str | None,
        typer.Option("--fields", help="reasoning,answer: one model's reasoning against its answers."),
    ] = None,
    top_terms: Annotated[
        int,
        typer.Option("--top-terms", min=0, help="With the default lexicons: the N terms that differ most."),
    ] = 5,
    fail_if: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-if", help="A gate, e.g. 'ratio(nonlatin_token_share) > 2' (repeatable; exit 3)."
        ),
    ] = None,
    ignore_script: IgnoreScriptOption = None,
    kind: KindOption = None,
    dataset: DatasetOption = None,
    resamples: ResamplesOption = DEFAULT_RESAMPLES,
    seed: SeedOption = 0,
    format_: FormatOption = OutputFormat.table,
) -> None:
    """Models side by side (or one model's reasoning against its answers): values, ratios, adjusted p-values, CI gates."""
    from cotlens.compare import CompareOptions, compare, metric_keys
    from cotlens.gates import check_gates, parse_gate
    from cotlens.lexicon import select_lexicons

    check_choice(field, ("reasoning", "answer"), "--field")
    pair = _fields_pair(fields)
    ignore = ignored_scripts(ignore_script)
    with cli_errors():
        lexicons = select_lexicons(lexicon or [], term or [])
        gates = [parse_gate(g, metric_keys(lexicons)) for g in fail_if or []]
        intervals = IntervalOptions(resamples=resamples, seed=seed)
        options = CompareOptions(field, pair, top_terms, bool(lexicon or term), intervals, ignore)
        selection = selection_from(list(dict.fromkeys(models)), dataset, kind)
        comparison = compare(
            Store(store), models, lexicons, selection, options, on_measure=announce_measuring
        )
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
            "--where", help="A condition every kept transcript meets, e.g. 'not loop' (repeatable)."
        ),
    ] = None,
    out: Annotated[
        str | None, typer.Option("--out", help="Kept transcripts: FILE.jsonl, FILE.parquet, or - for stdout.")
    ] = None,
    exclusions: Annotated[
        str | None,
        typer.Option("--exclusions", help="Where dropped transcripts go (default OUT.exclusions.jsonl)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be kept and dropped.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace existing output files.")] = False,
    original: Annotated[
        bool,
        typer.Option(
            "--original", help="Write the kept transcripts' input records as read (JSON Lines inputs)."
        ),
    ] = False,
    field: FieldOption = "reasoning",
    ignore_script: IgnoreScriptOption = None,
    lexicon: Annotated[
        list[str] | None, typer.Option("--lexicon", help="Lexicons that rate(...) conditions may name.")
    ] = None,
    term: Annotated[
        list[str] | None, typer.Option("--term", help="Terms that rate(terms:...) may name.")
    ] = None,
    kind: KindOption = None,
    dataset: DatasetOption = None,
    json_: Annotated[bool, typer.Option("--json", help="The summary as JSON on stdout.")] = False,
) -> None:
    """Write the transcripts that meet every --where condition; list each other one with the condition it failed."""
    from cotlens.compare import metric_keys
    from cotlens.conditions import parse_condition
    from cotlens.filter import FilterOptions, run_filter
    from cotlens.lexicon import select_lexicons

    check_choice(field, ("reasoning", "answer"), "--field")
    if (out is None) == (not dry_run):
        raise typer.BadParameter("give --out PATH (or - for stdout), or --dry-run")
    if json_ and out == "-":
        raise typer.BadParameter("--json prints the summary on stdout: it cannot share it with --out -")
    ignore = ignored_scripts(ignore_script)
    with cli_errors():
        lexicons = select_lexicons(lexicon or [], term or [])
        rate_keys = [k for k in metric_keys(lexicons) if k in {lex.name for lex in lexicons} or ":" in k]
        conditions = [parse_condition(w, rate_keys) for w in where or []]
        options = FilterOptions(field, ignore, None if dry_run else out, exclusions, force, original)
        selection = selection_from(models, dataset, kind)
        summary = run_filter(
            Store(store), selection, conditions, lexicons, options, on_measure=announce_measuring
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
        str, typer.Option("--vs", help="webtext (wordfreq's English list) or another model.")
    ] = "webtext",
    top: Annotated[int, typer.Option("--top", min=1, help="Words shown (per side against a model).")] = 25,
    min_count: Annotated[int, typer.Option("--min-count", min=1, help="Least occurrences of a word.")] = 5,
    min_transcripts: Annotated[
        int, typer.Option("--min-transcripts", min=1, help="Least distinct transcripts a word occurs in.")
    ] = 3,
    numbers: Annotated[bool, typer.Option("--numbers", help="Keep words with a digit.")] = False,
    no_stop_words: Annotated[
        bool, typer.Option("--no-stop-words", help="Leave out the 100 most frequent English words.")
    ] = False,
    field: FieldOption = "reasoning",
    ignore_script: IgnoreScriptOption = None,
    kind: KindOption = None,
    dataset: DatasetOption = None,
    format_: FormatOption = OutputFormat.table,
) -> None:
    """The words a model over-uses, against English web text or against another model."""
    from cotlens.keywords import KeywordOptions, compute_keywords

    check_choice(field, ("reasoning", "answer"), "--field")
    ignore = ignored_scripts(ignore_script)
    with cli_errors():
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
    limit: Annotated[int, typer.Option("--limit", min=1, help="Lines shown.")] = 20,
    width: Annotated[
        int, typer.Option("--width", min=2, help="Display columns of context on each side.")
    ] = 40,
    sample: Annotated[
        bool, typer.Option("--sample", help="A seeded random sample of all occurrences, not the first ones.")
    ] = False,
    seed: SeedOption = 0,
    substring: Annotated[
        bool,
        typer.Option("--substring", help="Find term.lower() in text.lower() instead of whole occurrences."),
    ] = False,
    field: FieldOption = "reasoning",
    kind: KindOption = None,
    dataset: DatasetOption = None,
    format_: FormatOption = OutputFormat.table,
) -> None:
    """Keyword in context: each occurrence of a term on one line, with its model and source."""
    from cotlens.kwic import KwicOptions, compute_kwic
    from cotlens.measure.terms import parse_term

    check_choice(field, ("reasoning", "answer"), "--field")
    with cli_errors():
        options = KwicOptions(field, limit, width, sample, seed)
        selection = selection_from(models, dataset, kind)
        result = compute_kwic(Store(store), parse_term(term, substring), selection, options)
    render_result(result, format_, store)


@app.command("measure")
def measure_command(store: StoreOption = Path(DEFAULT_STORE)) -> None:
    """Compute the intrinsic measurements that parts made by an older cotlens or ingest --defer-measure lack."""
    with cli_errors():
        done = Store(store).measure(on_wait=lambda: say("cotlens: waiting for another writer to finish"))
    say(
        f"{done['rows_measured']} transcripts measured in {done['parts_measured']} of {done['parts']} part files"
    )
