"""Commands that read inputs: ingest (into the store) and sniff (what ingest would make of them)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cotlens.cli.app import EXIT_ERROR, EXIT_GATE, app
from cotlens.cli.options import (
    SUMMARY,
    EngineOption,
    FormatOption,
    RayAddressOption,
    StoreOption,
    cli_errors,
    json_alias,
    output_formats,
)
from cotlens.escape import printable
from cotlens.limits import DOCUMENT_BYTES, LIMIT_MB_MAX, MB, RECORD_BYTES, Limits
from cotlens.render import OutputFormat, print_document, render
from cotlens.render.console import say, stderr_console, stdout_console
from cotlens.render.progress import RichProgress
from cotlens.runtime.engine import use_engine
from cotlens.store import DEFAULT_STORE, Store


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


@app.command("ingest")
def ingest_command(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files or directories to read (recursively), s3:// or gs:// objects, prefixes or patterns; - for stdin."
        ),
    ],
    store: StoreOption = DEFAULT_STORE,
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
        bool, typer.Option("--json", metavar="", help="The summary as JSON on stdout (--format json).")
    ] = False,
    format_: Annotated[str, output_formats("table", "json", where=SUMMARY)] = "table",
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
            max=LIMIT_MB_MAX,
            help="Largest record read (a JSON Lines line, an archive member), decompressed; larger ones are rejected with their size (at most 1 TiB).",
        ),
    ] = RECORD_BYTES / MB,
    max_document_mb: Annotated[
        float,
        typer.Option(
            "--max-document-mb",
            min=0.001,
            max=LIMIT_MB_MAX,
            help="Largest JSON document read (a .json file of records), decompressed; a larger one is an input error (at most 1 TiB).",
        ),
    ] = DOCUMENT_BYTES / MB,
    engine: EngineOption = "local",
    ray_address: RayAddressOption = None,
) -> None:
    """Read transcripts into the store: every record added, a duplicate, or rejected with its reason."""
    from cotlens.formats.mapping import load_mapping
    from cotlens.ingest import IngestOptions, ingest
    from cotlens.render.ingest import print_ingest_summary

    format_ = json_alias(json_, format_)
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
    print_ingest_summary(result, stderr_console())
    if not result.stored:
        say(f"cotlens: no input could be read: no store was created at {printable(result.store)}")
    if format_ == "json":
        print_document(result.to_dict(), stdout_console())
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
