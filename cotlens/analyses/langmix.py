"""Language mixing per group of transcripts (README, Definitions: "Language mixing"), read from the measurements stored at
ingest (measure/scripts.py defines them), so no text is read unless a script is left out or examples are asked.

Per group and reasoning kind, over the transcripts with text in the field:

- non-Latin token share = Σ non-Latin o200k tokens / Σ o200k tokens, interval over transcripts;
- non-Latin letter share = Σ non-Latin letters / Σ letters, interval over transcripts;
- with mixing: share of transcripts with at least one non-Latin letter (Wilson);
- code-switch spans per 1000 tokens (spans exist only where the dominant script is Latin), interval;
- non-Latin dominant: transcripts whose dominant script is not Latin (e.g. reasoning entirely in Chinese).

`scripts=True` adds the token and letter shares and the prevalence per script (a token holding letters of two
scripts counts for each). Leaving a script out (`ignore`) treats its letters as no letters at all: transcripts
that hold some are measured again from their text, the others read as stored. Examples: up to N code-switch
spans per group, the first span of each transcript in store order, with context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cotlens.analyses import grouped_scan
from cotlens.errors import CotlensError
from cotlens.groups import (
    GroupKey,
    IntervalOptions,
    Ints,
    RatioSums,
    check_by,
    group_codes,
    group_columns,
    interval_caption,
    own_resamples,
)
from cotlens.measure.scripts import SCRIPTS, check_ignorable, leave_out_scripts, left_out
from cotlens.measure.tokens import tokenizer_description
from cotlens.result import Column, Result
from cotlens.scan import Selection, map_to_dense, rows_where, scan_workers
from cotlens.stats import FloatArray
from cotlens.store import Store

NON_LATIN = SCRIPTS[1:]  # SCRIPTS starts with Latin
ALL_SCRIPTS = "(all)"  # the row of all non-Latin scripts together
CONTEXT_CHARS = 40  # shown on each side of an example span
SPAN_CHARS = 80  # longer spans are cut in the middle


@dataclass(frozen=True, slots=True)
class LangmixOptions:
    by: str = "model"
    field: str = "reasoning"
    scripts: bool = False  # a row per script too
    ignore: frozenset[str] = frozenset()  # scripts left out
    examples: int = 0  # code-switch spans shown per group
    intervals: IntervalOptions = IntervalOptions()  # frozen: one shared default is safe

    def validate(self) -> None:
        check_by(self.by)
        try:
            check_ignorable(self.ignore)
        except ValueError as e:
            raise CotlensError(f"--ignore-script: {e}") from None


@dataclass(frozen=True, slots=True)
class _MixCounts(grouped_scan.CodedPart):
    """One batch's per-transcript numbers. Token-based numerators: non-Latin tokens, spans, then (with
    --scripts) one column per non-Latin script; letter-based: non-Latin letters, then one per script."""

    by_token: Ints  # (n, 2) or (n, 2 + len(NON_LATIN))
    tokens: Ints
    by_letter: Ints  # (n, 1) or (n, 1 + len(NON_LATIN))
    letters: Ints
    nonlatin_dominant: npt.NDArray[np.bool_]
    examples: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _MixKernel:
    options: LangmixOptions

    def column(self, name: str) -> str:
        return f"{self.options.field}_{name}"

    def columns(self) -> tuple[str, ...]:
        o = self.options
        names = ["tokens_o200k", "letters", "nonlatin_letters", "nonlatin_tokens_o200k", "codeswitch_spans"]
        names += ["dominant_script", "letters_by_script", "nonlatin_tokens_by_script"]
        cols = [*group_columns(o.by), *(self.column(n) for n in names)]
        if o.ignore or o.examples:
            cols += [o.field, self.column("codeswitch_span_offsets"), "source_path", "source_locator"]
            cols.append("transcript_id")
        return tuple(cols)

    def __call__(self, table: pa.Table) -> _MixCounts:
        table = rows_where(table, table[self.column("letters")].is_valid())
        if self.options.ignore:
            table = leave_out_scripts(table, self.options.field, self.options.ignore)
        n = table.num_rows
        groups, codes = group_codes(table, self.options.by)
        scripts = len(NON_LATIN) if self.options.scripts else 0  # per-script columns cost: only on demand
        by_token = np.zeros((n, 2 + scripts), dtype=np.int64, order="F")  # filled column by column
        by_letter = np.zeros((n, 1 + scripts), dtype=np.int64, order="F")
        by_token[:, 0] = grouped_scan.int_column(table[self.column("nonlatin_tokens_o200k")])
        by_token[:, 1] = grouped_scan.int_column(table[self.column("codeswitch_spans")])
        by_letter[:, 0] = grouped_scan.int_column(table[self.column("nonlatin_letters")])
        if scripts:  # Latin, a key of the letters map, is not asked for
            by_token[:, 2:] = map_to_dense(table[self.column("nonlatin_tokens_by_script")], NON_LATIN)
            by_letter[:, 1:] = map_to_dense(table[self.column("letters_by_script")], NON_LATIN)
        dominant = table[self.column("dominant_script")]
        nonlatin_dominant = pc.fill_null(pc.not_equal(dominant, "Latin"), False).to_numpy(
            zero_copy_only=False
        )
        return _MixCounts(
            groups,
            codes,
            by_token,
            grouped_scan.int_column(table[self.column("tokens_o200k")]),
            by_letter,
            grouped_scan.int_column(table[self.column("letters")]),
            nonlatin_dominant,
            self._examples(table, groups, codes) if self.options.examples else [],
        )

    def _examples(self, table: pa.Table, groups: list[GroupKey], codes: Ints) -> list[dict[str, Any]]:
        """The first span of each transcript that has one, up to the wanted number per group."""
        wanted = self.options.examples
        with_spans = np.flatnonzero(grouped_scan.int_column(table[self.column("codeswitch_spans")]) > 0)
        taken = dict.fromkeys(range(len(groups)), 0)
        out = []
        texts, offsets = table[self.options.field], table[self.column("codeswitch_span_offsets")]
        for i in with_spans.tolist():
            code = int(codes[i])
            if taken[code] >= wanted:
                continue
            taken[code] += 1
            start, end = offsets[i][0].as_py()
            out.append(
                {
                    **grouped_scan.key_fields(groups[code]),
                    "source": f"{table['source_path'][i].as_py()}:{table['source_locator'][i].as_py()}",
                    "transcript_id": table["transcript_id"][i].as_py(),
                    **_in_context(texts[i].as_py(), start, end),
                }
            )
        return out


def _in_context(text: str, start: int, end: int) -> dict[str, str]:
    """A span with CONTEXT_CHARS on each side, each whitespace run shown as one space, a long span cut."""
    before, after = text[max(0, start - CONTEXT_CHARS) : start], text[end : end + CONTEXT_CHARS]
    span = _flat(text[start:end])
    if len(span) > SPAN_CHARS:
        span = f"{span[: SPAN_CHARS // 2]}…{span[-SPAN_CHARS // 2 :]}"
    left = ("…" if start > CONTEXT_CHARS else "") + _flat(before)
    right = _flat(after) + ("…" if end + CONTEXT_CHARS < len(text) else "")
    gap_left = " " if before[-1:].isspace() else ""
    gap_right = " " if after[:1].isspace() else ""
    return {
        "before": left,
        "span": span,
        "after": right,
        "context": f"{left}{gap_left}«{span}»{gap_right}{right}",
    }


def _flat(text: str) -> str:
    return " ".join(text.split())


@dataclass
class _Group:
    key: GroupKey
    wanted: int  # examples kept
    tokens: RatioSums = field(default_factory=RatioSums)
    letters: RatioSums = field(default_factory=RatioSums)
    nonlatin_dominant: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, part: _MixCounts, rows: grouped_scan.Rows) -> None:
        self.tokens.add(part.by_token[rows], part.tokens[rows])
        self.letters.add(part.by_letter[rows], part.letters[rows])
        self.nonlatin_dominant += int(part.nonlatin_dominant[rows].sum())
        mine = (e for e in part.examples if (e["group"], e["reasoning_kind"]) == self.key)
        self.examples.extend(mine)
        del self.examples[self.wanted :]


def compute_langmix(
    store: Store,
    selection: Selection,
    options: LangmixOptions,
) -> Result:
    options.validate()
    grouped_scan.start_scan(store, selection, options.by)
    kernel = _MixKernel(options)
    # The scan's workers, when it has any (it reads the text), then draw the bootstrap's resamples.
    with scan_workers(store, kernel.columns()) as workers:
        found = grouped_scan.scan_groups(
            store, kernel, selection, _Group.add, lambda key: _Group(key, options.examples), workers
        )
        groups = grouped_scan.sorted_groups(found, options.field, selection)
        # A group's token and letter shares hold the same transcripts: they draw their resamples once.
        drawn = own_resamples([(acc.tokens, acc.letters) for _, acc in groups], options.intervals, workers)
        rows = [
            row
            for (key, acc), both in zip(groups, drawn, strict=True)
            for row in _group_rows(key, acc, options, *both)
        ]
    kinds = grouped_scan.several_kinds(found)
    result = Result(
        "langmix",
        "Language mixing",
        grouped_scan.table_columns(kinds, _columns(options), rows),
        rows,
        _definitions(selection, options),
        _caption(options),
    )
    if options.examples:
        examples = [e for _, acc in groups for e in acc.examples]
        result.sections.append(_examples_section(examples, kinds))
    return result


def _group_rows(
    key: GroupKey,
    acc: _Group,
    options: LangmixOptions,
    tokens_drawn: FloatArray | None,
    letters_drawn: FloatArray | None,
) -> list[dict[str, Any]]:
    """A group's rows; *_drawn: the resampled moments of its token and letter shares (groups.own_resamples)."""
    iv = options.intervals
    tokens = acc.tokens.share_intervals(iv, resampled=tokens_drawn)
    letters = acc.letters.share_intervals(iv, resampled=letters_drawn)
    letter_prevalence = acc.letters.prevalence(iv)
    n = acc.tokens.n

    def row(script: str, token_col: int, letter_col: int) -> dict[str, Any]:
        share, low, high = (float(a[letter_col]) for a in letter_prevalence)
        return {
            **grouped_scan.key_fields(key),
            "script": script,
            "transcripts": n,
            "tokens": acc.tokens.sum_den,
            "nonlatin_tokens": int(acc.tokens.sum_num[token_col]),
            "nonlatin_token_share": float(tokens.estimate[token_col]),
            "nonlatin_token_share_low": float(tokens.low[token_col]),
            "nonlatin_token_share_high": float(tokens.high[token_col]),
            "letters": acc.letters.sum_den,
            "nonlatin_letters": int(acc.letters.sum_num[letter_col]),
            "nonlatin_letter_share": float(letters.estimate[letter_col]),
            "nonlatin_letter_share_low": float(letters.low[letter_col]),
            "nonlatin_letter_share_high": float(letters.high[letter_col]),
            "with_mixing": share,
            "with_mixing_low": low,
            "with_mixing_high": high,
            "codeswitch_spans": None,
            "spans_per_1k": None,
            "spans_per_1k_low": None,
            "spans_per_1k_high": None,
            "nonlatin_dominant": None,
            "interval_method": tokens.method_of(0),
            **grouped_scan.few_fields(n),
        }

    total = row(ALL_SCRIPTS, 0, 0)
    total.update(
        codeswitch_spans=int(acc.tokens.sum_num[1]),
        spans_per_1k=1000 * float(tokens.estimate[1]),
        spans_per_1k_low=1000 * float(tokens.low[1]),
        spans_per_1k_high=1000 * float(tokens.high[1]),
        nonlatin_dominant=acc.nonlatin_dominant,
    )
    rows = [total]
    if options.scripts:
        present = [i for i in range(len(NON_LATIN)) if acc.letters.sum_num[1 + i] > 0]
        present.sort(key=lambda i: (-acc.tokens.sum_num[2 + i], -acc.letters.sum_num[1 + i], i))
        rows += [row(NON_LATIN[i], 2 + i, 1 + i) for i in present]
    return rows


def _columns(options: LangmixOptions) -> list[Column]:
    """Between the group columns and the note (grouped_scan.table_columns)."""
    return [
        *([Column("script", "script")] if options.scripts else []),
        Column("transcripts", "n", "int"),
        Column("nonlatin_token_share", "non-Latin tokens [95%\u00a0CI]", "share_interval"),
        # Estimates only, to fit 100 columns: JSON and CSV have their intervals.
        Column("nonlatin_letter_share", "letters", "share"),
        Column("with_mixing", "with mixing", "share"),
        Column("spans_per_1k", "spans per 1k [95%\u00a0CI]", "interval"),
        Column("nonlatin_dominant", "non-Latin dominant", "int"),
    ]


def _examples_section(examples: list[dict[str, Any]], kinds: bool) -> Result:
    columns = grouped_scan.table_columns(
        kinds, [Column("source", "source"), Column("context", "code-switch span in context")]
    )
    return Result("langmix-examples", "Code-switch spans in context", columns, examples)


def _caption(options: LangmixOptions) -> str:
    left = left_out(options.ignore)
    return (
        f"Shares of the {options.field}'s o200k_base tokens and letters in non-Latin scripts; with mixing: "
        f"transcripts with a non-Latin letter (Wilson); spans: code-switch spans per 1000 tokens. "
        f"{interval_caption(options.intervals)}. {grouped_scan.FEW_CAPTION}{left}"
    )


def _definitions(selection: Selection, options: LangmixOptions) -> dict[str, Any]:
    return {
        **grouped_scan.group_definitions(selection, options.by, options.field, options.intervals),
        "tokenizer": tokenizer_description(),
        "letter": "general category L, Script neither Common nor Inherited (README, Definitions: Language mixing)",
        "nonlatin_token_share": "Σ tokens holding the first byte of a non-Latin letter / Σ tokens",
        "nonlatin_letter_share": "Σ non-Latin letters / Σ letters",
        "with_mixing": "share of transcripts with at least one non-Latin letter, Wilson score interval",
        "spans_per_1k": "1000 × Σ code-switch spans / Σ tokens; spans only where the dominant script is Latin",
        "nonlatin_dominant": "transcripts whose dominant script (most letters; Latin wins ties) is not Latin",
        "ignored_scripts": sorted(options.ignore),
    }
