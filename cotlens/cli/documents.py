"""Commands whose output is a document: one transcript (show), a figure (plot), an HTML page (report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from cotlens.cli.app import EXIT_GATE, app
from cotlens.cli.options import (
    ByOption,
    DatasetOption,
    EngineOption,
    FieldOption,
    KindOption,
    ModelsArgument,
    RayAddressOption,
    ResamplesOption,
    SeedOption,
    StoreOption,
    check_choice,
    cli_errors,
    ignored_scripts,
    local_output,
    measured,
    output_formats,
    selection_from,
)
from cotlens.errors import CotlensError
from cotlens.escape import printable
from cotlens.groups import IntervalOptions
from cotlens.render import print_document
from cotlens.render.console import say, stdout_console
from cotlens.runtime.engine import use_engine
from cotlens.stats import DEFAULT_RESAMPLES
from cotlens.store import DEFAULT_STORE, Store


@app.command("show")
def show_command(
    reference: Annotated[
        str,
        typer.Argument(
            help="A transcript id, 8+ hex digits of one, or SOURCE:LOCATOR (as kwic and langmix print them).",
            show_default=False,
        ),
    ],
    store: StoreOption = DEFAULT_STORE,
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
    format_: Annotated[str, output_formats("text", "json")] = "text",
) -> None:
    """One whole transcript (prompt, reasoning, answer, kind, tags, measurements) with its term hits,
    code-switch spans and loop highlighted."""
    from cotlens.analyses.show import show_transcript
    from cotlens.lexicon import select_lexicons
    from cotlens.render.transcript import print_transcript
    from cotlens.store import store_fingerprint

    with cli_errors():
        where = Store(store)
        shown = show_transcript(where, reference, select_lexicons(lexicon or [], term or []))
    if format_ == "json":
        print_document(shown.document(store_fingerprint(where)), stdout_console())
        return
    print_transcript(shown, plain, stdout_console())


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
        str | None,
        typer.Option(
            "--out",
            metavar="PATH",
            callback=local_output,
            help="The figure: FILE.svg, FILE.png or FILE.pdf (default figure.svg, or figure.FORMAT).",
            show_default=False,
        ),
    ] = None,
    format_: Annotated[
        str | None, output_formats("svg", "png", "pdf", where=" (default: --out's suffix)")
    ] = None,
    store: StoreOption = DEFAULT_STORE,
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
    from cotlens.analyses.plot import PlotOptions, plot_result
    from cotlens.render.figures import plot_bytes

    check_choice(kind, PLOT_KINDS, "KIND")
    path, fmt = figure_file(None if out is None else Path(out), format_)
    check_choice(field, ("reasoning", "answer"), "--field")
    ignore = ignored_scripts(ignore_script)
    with cli_errors():
        intervals = IntervalOptions(resamples=resamples, seed=seed)
        options = PlotOptions(by, field, tokens, terms, statistic, ignore, intervals, substring, top_terms)
        selection = selection_from(models, dataset, kind_)
        result = measured(
            store,
            lambda: plot_result(
                kind, Store(store), models or [], lexicon or [], term or [], selection, options
            ),
        )
        data = plot_bytes(kind, result, terms, statistic, fmt)
        try:
            path.write_bytes(data)
        except OSError as e:
            raise CotlensError(f"cannot write {path}: {e.strerror}") from None
    say(f"cotlens: wrote {printable(str(path))}")


def figure_file(out: Path | None, format_: str | None) -> tuple[Path, str]:
    """The figure's file and format: --format, else --out's suffix; figure.FORMAT without --out. A suffix
    that is not the format asked for is a usage error (a PNG in a file named .svg would mislead)."""
    if out is None:
        return Path(f"figure.{format_ or 'svg'}"), format_ or "svg"
    suffix = out.suffix.lower().lstrip(".")
    if format_ is None:
        return out, check_choice(suffix, ("svg", "png", "pdf"), "--out's suffix")
    if suffix != format_:
        raise typer.BadParameter(f"--format {format_} writes a .{format_} file, not {str(out)!r}")
    return out, format_


@app.command("report")
def report_command(
    models: ModelsArgument = None,
    out: Annotated[
        str, typer.Option("--out", metavar="PATH", callback=local_output, help="The HTML file to write.")
    ] = "report.html",
    format_: Annotated[str, output_formats("html", where=" (the page written to --out)")] = "html",
    store: StoreOption = DEFAULT_STORE,
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
    from cotlens.analyses.report import ReportOptions
    from cotlens.lexicon import select_lexicons
    from cotlens.render.report_page import make_report

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
            Path(out).write_text(page, encoding="utf-8")
        except OSError as e:
            raise CotlensError(f"cannot write {out}: {e.strerror}") from None
    stdout_console().print(Text(printable(str(Path(out)))), soft_wrap=True)
    for line in report.gate_failures:
        say(f"cotlens: gate failed: {printable(line)}")
    if report.gate_failures:
        raise typer.Exit(EXIT_GATE)
