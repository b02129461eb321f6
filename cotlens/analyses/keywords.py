"""`cotlens keywords`: the words a model over-uses, against English web text or against another model.

Words. Text is folded as for term matching (NFKC, casefold, typographic apostrophes to "'") and split into
maximal runs of letters, marks and digits, joined across inner apostrophes ("can't", "let's"; a trailing "'" is
dropped): how wordfreq tokenizes English, so counts compare like with like with its list. Differences: numbers
with a decimal point ("3.5" is two words here; numbers are excluded by default anyway) and fullwidth letters,
which fold to ASCII here as in term matching (tests/analyses/test_keywords.py checks the agreement).

Against web text (`vs="webtext"`): wordfreq's English "best" list (Robyn Speer, data CC-BY-SA 4.0). Per word:
frequency per million words of the model's text, per million words of web text, and their ratio, "× web". A word
the list lacks gets the list's smallest frequency as its web frequency, so its ratio is a lower bound (shown "≥").

Against another model: per word, the log2 ratio of the two frequencies (a count of 0 taken as 0.5, stated),
Rayson and Garside's log-likelihood G² (2000, two-term form, p from the chi-square with one degree of freedom,
Benjamini-Hochberg adjusted over the vocabulary) and Monroe, Colaresi and Quinn's log-odds ratio with an
informative Dirichlet prior (2008, z-score; the prior is the two texts pooled). Ranked by log ratio among words
with adjusted p < 0.05 and |z| >= 1.96, the over-used words of each side.

Both keep the list meaningful: at least `min_count` occurrences and `min_transcripts` distinct transcripts on the
over-using side (one looping transcript cannot carry a word), numbers out unless asked, stop words (wordfreq's 100
most frequent English words) out when asked. Counting runs per row group in worker processes (polars: extract,
explode, group by), so memory grows with the vocabulary, not the corpus.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa

from cotlens.errors import CotlensError, UsageError
from cotlens.measure.fold import fold_column
from cotlens.measure.scripts import letters_of
from cotlens.result import Column, Result
from cotlens.scan import Selection, check_selection, map_store, rows_where
from cotlens.stats import SIGNIFICANCE, benjamini_hochberg
from cotlens.store import Store

WEBTEXT = "webtext"
# A word: letters, marks and digits, with apostrophes only between them.
WORD = r"[\p{L}\p{M}\p{N}]+(?:'[\p{L}\p{M}\p{N}]+)*"
ZERO_COUNT = 0.5  # log ratio floor: a word one side never uses counts half an occurrence there
Z_SIGNIFICANT = 1.959964  # two-sided 5%
WORDLIST = "best"


@dataclass(frozen=True, slots=True)
class KeywordOptions:
    vs: str = WEBTEXT  # "webtext" or a model name
    top: int = 25
    min_count: int = 5
    min_transcripts: int = 3
    field: str = "reasoning"
    numbers: bool = False  # keep words with a digit
    stop_words: bool = True  # keep the 100 most frequent English words
    ignore: frozenset[str] = frozenset()  # scripts whose letters are no letters (as in langmix): never words


COUNTS_SCHEMA = {"model": pl.String, "word": pl.String, "count": pl.UInt32, "transcripts": pl.UInt32}


@dataclass(frozen=True, slots=True)
class _WordCounts:
    """One row group's words per model: occurrences, distinct transcripts; and each model's total words."""

    table: pa.Table  # model, word, count, transcripts
    totals: dict[str, int]


@dataclass(frozen=True, slots=True)
class _WordKernel:
    field: str
    ignore: frozenset[str] = frozenset()

    def columns(self) -> tuple[str, ...]:
        return ("model", self.field)

    def __call__(self, table: pa.Table) -> _WordCounts:
        table = rows_where(table, table[self.field].is_valid())
        texts = fold_column(pl.Series(table[self.field].combine_chunks(), dtype=pl.String))
        if self.ignore:  # their letters are no letters: a space where each one was
            texts = texts.str.replace_all(letters_of(self.ignore), " ")
        frame = pl.DataFrame(
            {
                "model": pl.Series(table["model"].combine_chunks(), dtype=pl.String),
                "row": np.arange(table.num_rows, dtype=np.uint32),
                "word": texts.str.extract_all(WORD),
            }
        )
        counts, totals = [], {}
        # A model at a time: grouping by the word alone hashes one string per word, not a (model, word) pair
        # (0.39 -> 0.30 s a row group of two models).
        for (model,), rows in frame.group_by("model"):
            words = rows.explode("word").drop_nulls("word")
            totals[str(model)] = words.height
            counts.append(
                words.group_by("word")
                .agg(pl.len().alias("count"), pl.col("row").n_unique().alias("transcripts"))
                .select(pl.lit(model, dtype=pl.String).alias("model"), "word", "count", "transcripts")
            )
        merged = pl.concat(counts) if counts else pl.DataFrame(schema=COUNTS_SCHEMA)
        return _WordCounts(merged.to_arrow(), totals)


def compute_keywords(store: Store, model: str, selection: Selection, options: KeywordOptions) -> Result:
    """The words `model` over-uses against web text or against the model `options.vs`."""
    models = (model,) if options.vs == WEBTEXT else (model, options.vs)
    if options.vs == model:
        raise UsageError(f"--vs {model}: a model compared with itself")
    selection = Selection(models, selection.datasets, selection.kinds)
    check_selection(store, selection)
    counts, totals = _count(store, selection, options.field, ignore=options.ignore)
    for name in models:
        if not totals.get(name):
            raise CotlensError(f"{name} has no {options.field} text in the selection: no words to count")
    counts = _keep(counts, options)
    if options.vs == WEBTEXT:
        return _against_web(counts.filter(pl.col("model") == model), model, totals[model], options)
    return _against_model(counts, model, options.vs, totals, options)


def keywords_by_model(
    store: Store,
    selection: Selection,
    options: KeywordOptions,
    every: int = 1,
    workers: Executor | Literal["own"] | None = "own",
) -> list[Result]:
    """Each selected model's words over-used against web text, counted in one pass over the store (over every
    n-th row group only with `every`: a bounded sample for a report); models without text are left out."""
    check_selection(store, selection)
    counts, totals = _count(store, selection, options.field, every, workers, options.ignore)
    counts = _keep(counts, options)
    return [
        _against_web(counts.filter(pl.col("model") == model), model, total, options)
        for model, total in sorted(totals.items())
        if total
    ]


def _count(
    store: Store,
    selection: Selection,
    field: str,
    every: int = 1,
    workers: Executor | Literal["own"] | None = "own",
    ignore: frozenset[str] = frozenset(),
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Words per model over the store, merged row group by row group (memory: the vocabulary)."""
    kernel = _WordKernel(field, ignore)
    merged: pl.DataFrame | None = None
    totals: dict[str, int] = {}
    for part in map_store(store, kernel, kernel.columns(), selection, workers, every):
        for name, total in part.totals.items():
            totals[name] = totals.get(name, 0) + total
        frame = pl.from_arrow(part.table)
        assert isinstance(frame, pl.DataFrame)
        merged = frame if merged is None else pl.concat([merged, frame])
        # Transcripts never span row groups, so distinct transcripts add up like counts.
        merged = merged.group_by("model", "word").agg(pl.col("count").sum(), pl.col("transcripts").sum())
    if merged is None:
        return pl.DataFrame(schema=COUNTS_SCHEMA), totals
    # group_by's row order varies from run to run; words tied on a score must come out in the same order every run.
    return merged.sort("model", "word"), totals


def _keep(counts: pl.DataFrame, options: KeywordOptions) -> pl.DataFrame:
    if not options.numbers:
        counts = counts.filter(~pl.col("word").str.contains(r"\p{N}"))
    if not options.stop_words:
        counts = counts.filter(~pl.col("word").is_in(sorted(stop_words())))
    return counts


@lru_cache(maxsize=1)
def web_frequencies() -> dict[str, float]:
    """wordfreq's English list: word -> share of web-text tokens."""
    import wordfreq

    frequencies: dict[str, float] = wordfreq.get_frequency_dict("en", wordlist=WORDLIST)
    return frequencies


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    import wordfreq

    return frozenset(wordfreq.top_n_list("en", 100, wordlist=WORDLIST))


def _against_web(counts: pl.DataFrame, model: str, total: int, options: KeywordOptions) -> Result:
    web = web_frequencies()
    floor = min(web.values())
    frame = counts.filter(
        (pl.col("count") >= options.min_count) & (pl.col("transcripts") >= options.min_transcripts)
    )
    words = frame["word"].to_list()
    listed = np.array([w in web for w in words], dtype=bool)
    web_share = np.array([web.get(w, floor) for w in words])
    per_million = 1e6 * frame["count"].to_numpy().astype(np.float64) / total
    ratio = per_million / (1e6 * web_share)
    order = np.argsort(-ratio, kind="stable")[: options.top]
    rows = [
        {
            "word": words[i],
            "count": int(frame["count"][i]),
            "transcripts": int(frame["transcripts"][i]),
            "per_million": float(per_million[i]),
            "web_per_million": float(1e6 * web_share[i]),
            "x_web": float(ratio[i]),
            "in_web_list": bool(listed[i]),
            "x_web_text": ("" if listed[i] else "≥") + _times(float(ratio[i])),
        }
        for i in order.tolist()
    ]
    columns = [
        Column("word", "word"),
        Column("count", "count", "int"),
        Column("transcripts", "transcripts", "int"),
        Column("per_million", "per million", "float"),
        Column("web_per_million", "web per million", "float"),
        Column("x_web_text", "× web", "formatted"),
    ]
    definitions = {
        "words": "folded runs of letters, marks and digits joined across inner apostrophes (wordfreq's English tokens)",
        "web": f"wordfreq {WORDLIST!r} English list (CC-BY-SA 4.0); a word it lacks gets its smallest frequency "
        f"({1e6 * floor:.3g} per million), so its ratio is a lower bound (≥)",
        "model": model,
        "total_words": total,
        "filters": _filters(options),
    }
    caption = (
        f"{model}: words over-used against English web text (wordfreq), per million words of its {options.field}; "
        f"≥: not in the list, ratio against its floor. {_filters(options)}."
    )
    return Result("keywords", f"Keywords: {model} against web text", columns, rows, definitions, caption)


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}" if ratio >= 100 else f"{ratio:.3g}"


def _against_model(
    counts: pl.DataFrame, model: str, other: str, totals: dict[str, int], options: KeywordOptions
) -> Result:
    wide = counts.pivot(
        on="model", index="word", values=["count", "transcripts"], aggregate_function="sum"
    ).fill_null(0)
    words = wide["word"].to_list()
    a = _column(wide, "count", model)
    b = _column(wide, "count", other)
    ta, tb = _column(wide, "transcripts", model), _column(wide, "transcripts", other)
    na, nb = float(totals[model]), float(totals[other])
    log_ratio = np.log2((np.where(a == 0, ZERO_COUNT, a) / na) / (np.where(b == 0, ZERO_COUNT, b) / nb))
    g2 = log_likelihood(a, b, na, nb)
    p = np.array([math.erfc(math.sqrt(v / 2.0)) for v in g2.tolist()])  # chi-square, 1 degree of freedom
    p_adjusted = benjamini_hochberg(p)
    z = log_odds_z(a, b, na, nb)
    significant = (p_adjusted < SIGNIFICANCE) & (np.abs(z) >= Z_SIGNIFICANT)
    rows = []
    for side, sign, counts_side, transcripts_side in ((model, 1, a, ta), (other, -1, b, tb)):
        eligible = (
            significant
            & (sign * log_ratio > 0)
            & (counts_side >= options.min_count)
            & (transcripts_side >= options.min_transcripts)
        )
        chosen = np.flatnonzero(eligible)
        chosen = chosen[np.argsort(-sign * log_ratio[chosen], kind="stable")][: options.top]
        for i in chosen.tolist():
            rows.append(
                {
                    "over_used_by": side,
                    "word": words[i],
                    "count_a": int(a[i]),
                    "count_b": int(b[i]),
                    "per_million_a": float(1e6 * a[i] / na),
                    "per_million_b": float(1e6 * b[i] / nb),
                    "log2_ratio": float(log_ratio[i]),
                    "g2": float(g2[i]),
                    "p_adjusted": float(p_adjusted[i]),
                    "log_odds_z": float(z[i]),
                }
            )
    columns = [
        Column("over_used_by", "over-used by"),
        Column("word", "word"),
        Column("count_a", model, "int"),
        Column("count_b", other, "int"),
        Column("log2_ratio", "log2 ratio", "float"),
        Column("g2", "G²", "float"),
        Column("log_odds_z", "log-odds z", "float"),
        Column("p_adjusted", "p (BH)", "float"),
    ]
    definitions = {
        "a": model,
        "b": other,
        "total_words": {model: totals[model], other: totals[other]},
        "log2_ratio": f"log2 of the ratio of frequencies; a count of 0 taken as {ZERO_COUNT}",
        "g2": "log-likelihood G² (Rayson and Garside 2000), p from chi-square with 1 df, Benjamini-Hochberg adjusted",
        "log_odds_z": "log-odds ratio with informative Dirichlet prior (Monroe et al. 2008), prior = the pooled texts",
        "significant": f"adjusted p < {SIGNIFICANCE} and |z| >= {Z_SIGNIFICANT}",
        "filters": _filters(options),
    }
    caption = (
        f"Words {model} and {other} each over-use, by log2 ratio among significant words (G² adjusted p < "
        f"{SIGNIFICANCE}, |log-odds z| >= 1.96). {_filters(options)}."
    )
    return Result("keywords", f"Keywords: {model} against {other}", columns, rows, definitions, caption)


def _column(wide: pl.DataFrame, value: str, model: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A pivoted column (polars names them `value_model` when it pivots several values)."""
    name = f"{value}_{model}"
    if name not in wide.columns:
        return np.zeros(wide.height)
    return np.asarray(wide[name].to_numpy(), dtype=np.float64)


def log_likelihood(
    a: np.ndarray[Any, np.dtype[np.float64]], b: np.ndarray[Any, np.dtype[np.float64]], na: float, nb: float
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """G² = 2 Σ O ln(O / E) over the two corpora (Rayson and Garside 2000); 0 ln 0 = 0."""
    expected_a = na * (a + b) / (na + nb)
    expected_b = nb * (a + b) / (na + nb)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms_a = np.where(a > 0, a * np.log(a / expected_a), 0.0)
        terms_b = np.where(b > 0, b * np.log(b / expected_b), 0.0)
    g2: np.ndarray[Any, np.dtype[np.float64]] = 2.0 * (terms_a + terms_b)
    return g2


def log_odds_z(
    a: np.ndarray[Any, np.dtype[np.float64]], b: np.ndarray[Any, np.dtype[np.float64]], na: float, nb: float
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Monroe et al. 2008, eq. 16-22: the z-score of the log-odds ratio of a word between the two texts, with a
    Dirichlet prior alpha_w = the word's pooled count (alpha_0 = the pooled total)."""
    alpha = a + b
    alpha0 = na + nb
    delta = np.log((a + alpha) / (na + alpha0 - a - alpha)) - np.log((b + alpha) / (nb + alpha0 - b - alpha))
    variance = 1.0 / (a + alpha) + 1.0 / (b + alpha)
    z: np.ndarray[Any, np.dtype[np.float64]] = delta / np.sqrt(variance)
    return z


def _filters(options: KeywordOptions) -> str:
    parts = [f"at least {options.min_count} occurrences in {options.min_transcripts}+ transcripts"]
    if not options.numbers:
        parts.append("numbers excluded")
    if not options.stop_words:
        parts.append("stop words excluded")
    if options.ignore:
        parts.append(f"letters of {', '.join(sorted(options.ignore))} left out")
    return "; ".join(parts)
