"""One whole transcript: found by its id, a unique prefix of it (8 hex digits or more), or SOURCE:LOCATOR as
`kwic`, `langmix --examples` and the filter's exclusions file name it; with the places to highlight.

Highlights are character spans of the original text of the prompt, reasoning or answer:

- `term`: an occurrence of a lexicon term, located by terms.find_occurrences (what `rates` counts), found only
  in the texts where count_terms says the term occurs;
- `codeswitch`: a code-switch span, as stored at ingest (measure/scripts.py);
- `loop`: the closing degenerate loop, its stored unit found `loop_repeats` times at the end of the text.

Renderers (render/transcript.py, render/html.py) cut a text at every highlight edge, so overlapping highlights
(a term inside a loop) are shown together; they make every piece inert themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex

from cotlens import __version__
from cotlens.errors import CotlensError, UsageError
from cotlens.lexicon import Lexicon
from cotlens.measure.terms import count_terms, find_occurrences
from cotlens.record import REASONING_KINDS
from cotlens.result import SCHEMA_VERSION
from cotlens.scan import Selection, read_row_group
from cotlens.store import Store, open_part

TEXTS = ("prompt", "reasoning", "answer")
MEASURED = ("reasoning", "answer")
ID_PREFIX = regex.compile(r"[0-9a-f]{8,32}")
# Ambiguous references list at most this many candidates.
LISTED = 5
# The measurements `show` reports per measured text (stored at ingest).
SHOWN_MEASUREMENTS = (
    "tokens_o200k",
    "nonlatin_tokens_o200k",
    "codeswitch_spans",
    "dominant_script",
    "loop",
    "loop_unit",
    "loop_repeats",
)
HIGHLIGHT_KINDS = ("term", "codeswitch", "loop")
# `show` names any transcript, whatever its kind.
ALL_KINDS = Selection(kinds=REASONING_KINDS)


@dataclass(frozen=True, slots=True)
class Highlight:
    field: str  # prompt, reasoning or answer
    start: int
    end: int
    kind: str  # term, codeswitch or loop
    label: str  # the term as written ("o3-dialect: marinade"), the loop's repeats, or "" for a span

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "label": self.label,
        }


@dataclass(frozen=True, slots=True)
class Shown:
    """A transcript's stored record (texts, identity, provenance, tags, the shown measurements) and its
    highlights, sorted by field order then start."""

    record: dict[str, Any]
    highlights: list[Highlight]
    lexicons: list[str]

    def document(self, fingerprint: str) -> dict[str, Any]:
        """The `--format json` document."""
        return {
            "schema_version": SCHEMA_VERSION,
            "command": "show",
            "cotlens_version": __version__,
            "store_fingerprint": fingerprint,
            "definitions": {
                "highlights": "character offsets [start, end) in the original text of the field",
                "term": "an occurrence of a lexicon term, as `rates` counts it",
                "codeswitch": "a code-switch span, as `langmix` counts it",
                "loop": "the degenerate loop the text ends in, as `loops` flags it",
                "lexicons": self.lexicons,
            },
            "transcript": self.record,
            "highlights": [h.to_dict() for h in self.highlights],
        }


def record_columns() -> list[str]:
    """The stored columns `show` reads: identity, provenance, texts, tags and the shown measurements."""
    identity = ["transcript_id", "model", "dataset", "sample_id", "epoch", "source_id", "tags"]
    provenance = ["source_path", "source_locator", "format", "ingest_run"]
    kind = ["reasoning_kind", "reasoning_segments", "reasoning_tokens_reported", "output_tokens_reported"]
    kind += ["truncated", "repairs"]
    measured = [f"{t}_{m}" for t in MEASURED for m in (*SHOWN_MEASUREMENTS, "codeswitch_span_offsets")]
    return [*identity, *provenance, *TEXTS, *kind, *measured]


def find_transcript(store: Store, reference: str) -> dict[str, Any]:
    """The stored record that `reference` names: a transcript id, a unique id prefix (8+ hex digits), or
    SOURCE:LOCATOR. An unknown or ambiguous reference is an error that says so."""
    store.require()
    reference = reference.strip()
    is_id = ID_PREFIX.fullmatch(reference.lower()) is not None
    if is_id:
        prefix = reference.lower()
        found = read_records(store, ("transcript_id",), lambda t: _id_mask(t, prefix), LISTED + 1)
        if found.num_rows:
            return _one(found, reference)
    if ":" not in reference:
        if is_id:
            raise CotlensError(f"no transcript {reference!r} in the store")
        raise UsageError(
            f"{reference!r} is neither a transcript id (or 8+ hex digits of one) nor SOURCE:LOCATOR "
            "(as kwic and langmix --examples print them)"
        )
    found = read_records(
        store, ("source_path", "source_locator"), lambda t: _source_mask(t, reference), LISTED + 1
    )
    return _one(found, reference)


def find_transcripts(store: Store, ids: list[str]) -> list[dict[str, Any]]:
    """The stored records of these transcript ids, in the order asked (ids not in the store left out)."""
    wanted = pa.array(sorted(set(ids)), pa.string())
    found = read_records(store, ("transcript_id",), lambda t: pc.is_in(t["transcript_id"], wanted), len(ids))
    by_id = {r["transcript_id"]: r for r in _records(found)}
    return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]


def read_records(
    store: Store, keys: tuple[str, ...], mask: Callable[[pa.Table], pa.Array], limit: int
) -> pa.Table:
    """Up to `limit` whole records of the rows where mask(the key columns) holds: the key columns (a few bytes
    a row) are read for the whole store, the record columns only of the row groups holding a match, so a
    lookup reads no transcript text but its own."""
    pieces = []
    found = 0
    for path in store.parts():
        parquet = open_part(path)
        hits = np.flatnonzero(
            mask(parquet.read(columns=list(keys), use_threads=False)).to_numpy(zero_copy_only=False)
        )
        if not len(hits):
            continue
        starts = np.cumsum(
            [0] + [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
        )
        groups = np.searchsorted(starts, hits, side="right") - 1
        for group in np.unique(groups).tolist():
            rows = hits[groups == group] - starts[group]
            table = read_row_group(str(path), group, tuple(record_columns()), ALL_KINDS)
            pieces.append(table.take(pa.array(rows)))
            found += len(rows)
        if found >= limit:
            break
    return pa.concat_tables(pieces) if pieces else pa.table({})


def _id_mask(table: pa.Table, prefix: str) -> pa.Array:
    ids = table["transcript_id"]
    return pc.starts_with(ids, prefix) if len(prefix) < 32 else pc.equal(ids, prefix)


def _source_mask(table: pa.Table, reference: str) -> pa.Array:
    """Rows whose `source_path:source_locator` is the reference (a path or locator may hold ':' itself)."""
    joined = pc.binary_join_element_wise(table["source_path"], table["source_locator"], ":")
    return pc.equal(joined, reference)


def _records(found: pa.Table) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = found.to_pylist()
    for record in records:
        record["tags"] = dict(record["tags"] or [])
    return records


def _one(found: pa.Table, reference: str) -> dict[str, Any]:
    if found.num_rows == 0:
        raise CotlensError(f"no transcript {reference!r} in the store")
    ids = sorted(set(found["transcript_id"].to_pylist()))
    if len(ids) > 1:
        many = f"more than {LISTED}" if len(ids) > LISTED else str(len(ids))
        listed = ", ".join(ids[:LISTED]) + (", ..." if len(ids) > LISTED else "")
        raise UsageError(f"{reference!r} names {many} transcripts: {listed}; give more of the id")
    return _records(found.slice(0, 1))[0]


def show_transcript(store: Store, reference: str, lexicons: list[Lexicon]) -> Shown:
    """The transcript `reference` names, with its term, code-switch and loop highlights."""
    return highlight(find_transcript(store, reference), lexicons)


def highlight(record: dict[str, Any], lexicons: list[Lexicon]) -> Shown:
    """A stored record (as read by find_transcript(s)) with its highlights."""
    highlights: list[Highlight] = []
    for field in TEXTS:
        text = record.get(field)
        if not text:
            continue
        highlights += term_highlights(field, text, lexicons)
        if field in MEASURED:
            spans = record.pop(f"{field}_codeswitch_span_offsets", None) or []
            highlights += [Highlight(field, int(a), int(b), "codeswitch", "") for a, b in spans]
            highlights += loop_highlight(
                field, text, record.get(f"{field}_loop_unit"), record.get(f"{field}_loop_repeats")
            )
    for field in MEASURED:
        record.pop(f"{field}_codeswitch_span_offsets", None)
    order = {f: i for i, f in enumerate(TEXTS)}
    highlights.sort(key=lambda h: (order[h.field], h.start, h.end, h.kind, h.label))
    return Shown(record, highlights, [lex.name for lex in lexicons])


def term_highlights(field: str, text: str, lexicons: list[Lexicon]) -> list[Highlight]:
    """Every occurrence of every lexicon term in `text`: count_terms picks the terms present (one vectorized
    pass), find_occurrences locates each of those."""
    terms = [(lex.name, term) for lex in lexicons for term in lex.terms]
    if not terms:
        return []
    counts = count_terms([text], [t for _, t in terms])[0]
    found = []
    for (lexicon, term), count in zip(terms, counts.tolist(), strict=True):
        if count:
            label = f"{lexicon}: {term.label}"
            found += [Highlight(field, a, b, "term", label) for a, b in find_occurrences(text, term)]
    return found


def loop_highlight(field: str, text: str, unit: str | None, repeats: int | None) -> list[Highlight]:
    """The closing loop: the last `repeats` copies of its unit (stored with whitespace runs as one space), from
    the first of them to the end of the text; nothing when the unit cannot be found again."""
    if not unit or not repeats:
        return []
    words = unit.split()
    if not words:
        return []
    pattern = regex.compile(r"\s+".join(regex.escape(w) for w in words))
    starts = [m.start() for m in pattern.finditer(text)]
    if len(starts) < repeats:
        return []
    return [Highlight(field, starts[-repeats], len(text.rstrip()), "loop", f"{unit} ×{repeats}")]
