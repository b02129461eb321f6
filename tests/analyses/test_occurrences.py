"""Term counts for rates, compare and filter: read from the stored counts when every term has them, else counted
from the text, with the same numbers either way."""

from __future__ import annotations

import pyarrow as pa

from cotlens.analyses.occurrences import counts_column, term_counts
from cotlens.lexicon import builtin_keys, builtin_lexicons, select_lexicons, stored_positions
from cotlens.measure.terms import count_terms

TEXTS = ["Hmm, wait. Let me double-check: wait!", None, "WAIT — the user said marinade", ""]


def _table() -> pa.Table:
    """The texts and their stored counts as ingest stores them (a null list where there is no text)."""
    every_term = [t for lex in builtin_lexicons() for t in lex.terms]
    counts = count_terms(TEXTS, every_term)
    stored = [None if text is None else row.tolist() for text, row in zip(TEXTS, counts, strict=True)]
    return pa.table(
        {
            "reasoning": pa.array(TEXTS, pa.string()),
            "reasoning_lexicon_counts": pa.array(stored, pa.list_(pa.uint32())),
        }
    )


def test_stored_counts_and_counts_of_the_text_agree() -> None:
    table = _table()
    lexicons = select_lexicons(["epistemic", "o3-dialect"], [])
    terms = [t for lex in lexicons for t in lex.terms]
    stored = stored_positions(lexicons)
    assert stored is not None
    from_store = term_counts(table, "reasoning", terms, stored)
    from_text = term_counts(table, "reasoning", terms, None)
    assert from_store.tolist() == from_text.tolist()
    assert from_text[1].tolist() == [0] * len(terms)  # no text: 0, also where no counts are stored
    wait = [t.label for t in terms].index("wait")
    assert from_store[:, wait].tolist() == [2, 0, 1, 0]
    assert counts_column("reasoning", stored) == "reasoning_lexicon_counts"
    assert counts_column("answer", None) == "answer"


def test_consecutive_stored_terms_are_read_without_a_copy() -> None:
    table = _table().slice(2, 1)  # no null list: the stored values as they are
    (lexicon,) = select_lexicons(["voice"], [])
    stored = stored_positions([lexicon])
    assert stored is not None and list(stored) == list(range(stored[0], stored[0] + len(stored)))
    counts = term_counts(table, "reasoning", lexicon.terms, stored)
    assert not counts.flags.owndata  # a view of the stored lists
    assert counts.tolist() == count_terms([TEXTS[2]], lexicon.terms).tolist()
    assert len(builtin_keys()) > len(lexicon.terms)
    backwards = tuple(reversed(stored))  # not consecutive in this order: gathered
    assert term_counts(table, "reasoning", lexicon.terms[::-1], backwards).tolist() == [
        counts[0, ::-1].tolist()
    ]
