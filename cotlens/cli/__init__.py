"""The command line. Each command parses options, calls one library function, renders, and exits.
This package is the only place that knows exit codes: 0 ok, 1 data or runtime error, 2 usage error, 3 a gate failed
(`ingest --strict` with rejects), 130 interrupted."""

from __future__ import annotations

from cotlens.cli.app import app, run
from cotlens.escape import printable

# Importing a command module registers its commands: the help lists them in this order.
# isort: off
from cotlens.cli import inputs  # noqa: F401
from cotlens.cli import analysis  # noqa: F401
from cotlens.cli import documents  # noqa: F401
# isort: on

__all__ = ["app", "run"]


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
    "measure": ["cotlens measure --store demo-store", "cotlens measure --format json"],
    "show": [
        "cotlens show fixtures/demo/orion-3.jsonl:line 5 --store demo-store",
        "cotlens show TRANSCRIPT_ID --format json",
    ],
    "plot": [
        "cotlens plot rates --store demo-store --lexicon o3-dialect --out rates.svg",
        "cotlens plot compare orion-3 lumen-mix --out compare.png",
        "cotlens plot loops lumen-mix --format pdf",
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
