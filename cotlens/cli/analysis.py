"""Commands that analyze the store: models, rates, langmix, loops, compare, filter, keywords, kwic, measure.
Each parses its options, calls one analysis and hands its Result to render/.

Over 400 lines: the commands' option declarations (typer's Annotated options, one per parameter), not logic;
splitting them further would scatter one command group over files."""

from __future__ import annotations

from typing import Annotated

import typer

from cotlens.cli.app import EXIT_GATE, STATISTICS, app
from cotlens.cli.options import (
    SEED_MAX,
    ByOption,
    DatasetOption,
    EngineOption,
    FieldOption,
    FormatOption,
    IgnoreScriptOption,
    KindOption,
    ModelsArgument,
    RayAddressOption,
    ResamplesOption,
    SeedOption,
    StoreOption,
    check_choice,
    cli_errors,
    ignored_scripts,
    json_alias,
    local_output,
    measured,
    output_formats,
    render_result,
    selection_from,
)
from cotlens.escape import printable
from cotlens.groups import IntervalOptions
from cotlens.render import OutputFormat, render
from cotlens.render.console import say, stderr_console
from cotlens.runtime.engine import use_engine
from cotlens.stats import DEFAULT_RESAMPLES
from cotlens.store import DEFAULT_STORE, Store


@app.command("models")
def models_command(store: StoreOption = DEFAULT_STORE, format_: FormatOption = OutputFormat.table) -> None:
    """What the store holds per model: transcripts, reasoning kinds, reported tokens, datasets."""
    with cli_errors():
        from cotlens.analyses.inventory import summarize_models

        result = summarize_models(Store(store))
    render_result(result, format_, store)


@app.command("rates")
def rates_command(
    models: ModelsArgument = None,
    store: StoreOption = DEFAULT_STORE,
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
    store: StoreOption = DEFAULT_STORE,
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
    store: StoreOption = DEFAULT_STORE,
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
    store: StoreOption = DEFAULT_STORE,
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
    store: StoreOption = DEFAULT_STORE,
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
            callback=local_output,
            help="Kept transcripts: FILE.jsonl, FILE.parquet, DIR/ (Parquet files), or - for stdout.",
        ),
    ] = None,
    exclusions: Annotated[
        str | None,
        typer.Option(
            "--exclusions",
            metavar="PATH",
            callback=local_output,
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
    json_: Annotated[
        bool, typer.Option("--json", metavar="", help="The summary as JSON on stdout (--format json).")
    ] = False,
    format_: Annotated[
        str, output_formats("table", "json", "csv", "md", where=" (table: on stderr; the others on stdout)")
    ] = "table",
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Write the transcripts that meet every --where condition; list each other one with the condition it failed."""
    from cotlens.analyses.filter import FilterOptions, run_filter
    from cotlens.conditions import parse_condition
    from cotlens.lexicon import rate_keys, select_lexicons
    from cotlens.render.exports import Exports

    check_choice(field, ("reasoning", "answer"), "--field")
    if (out is None) == (not dry_run):
        raise typer.BadParameter("give --out PATH (or - for stdout), or --dry-run")
    format_ = json_alias(json_, format_)
    if format_ != "table" and out == "-":
        asked = "--json" if json_ else f"--format {format_}"
        raise typer.BadParameter(f"{asked} prints the summary on stdout: it cannot share it with --out -")
    ignore = ignored_scripts(ignore_script)
    with cli_errors(), use_engine(engine, ray_address):
        lexicons = select_lexicons(lexicon or [], term or [])
        conditions = [parse_condition(w, rate_keys(lexicons)) for w in where or []]
        options = FilterOptions(field, ignore, None if dry_run else out, exclusions, force, original)
        selection = selection_from(models, dataset, kind)
        sink = None if options.out is None else Exports(options)
        summary = measured(
            store, lambda: run_filter(Store(store), selection, conditions, lexicons, options, sink=sink)
        )
    if format_ == "table":
        render(summary, format_, stderr_console())
    else:
        render_result(summary, format_, store)


@app.command("keywords")
def keywords_command(
    model: Annotated[
        str, typer.Argument(help="The model whose over-used words to find.", show_default=False)
    ],
    store: StoreOption = DEFAULT_STORE,
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
    store: StoreOption = DEFAULT_STORE,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, max=2**63 - 1, help="Lines shown.")
    ] = 20,
    width: Annotated[
        int,
        typer.Option(
            "--width", metavar="N", min=2, max=10_000, help="Display columns of context on each side."
        ),
    ] = 40,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample", metavar="", help="A seeded random sample of all occurrences, not the first ones."
        ),
    ] = False,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            min=0,
            max=SEED_MAX,
            metavar="N",
            rich_help_panel=STATISTICS,
            help="Seed of the --sample draw.",
        ),
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
    store: StoreOption = DEFAULT_STORE,
    format_: Annotated[
        str,
        output_formats(
            "table", "json", where=" (table: a line on stderr; json: on stdout, the line still on stderr)"
        ),
    ] = "table",
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Compute the intrinsic measurements that parts made by an older cotlens or ingest --defer-measure lack."""
    from cotlens.analyses.inventory import measure_summary

    with cli_errors(), use_engine(engine, ray_address):
        from cotlens.intrinsic import measure_store

        done = measure_store(
            Store(store), on_wait=lambda: say("cotlens: waiting for another writer to finish")
        )
    say(
        f"{done['rows_measured']} transcripts measured in {done['parts_measured']} of {done['parts']} part files"
    )
    if format_ == "json":
        render_result(measure_summary(done), format_, store)
