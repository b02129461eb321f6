"""The occurrences of every built-in lexicon term in each text, stored so that rates, compare and filter read them
instead of counting the text again.

A list per text rather than a map, in lexicon.builtin_keys() order, which each part file's metadata records
(TERMS_KEY): reading a million maps' string keys costs more than the rest of a `compare`. The part also records
the fingerprint of the lexicons and matching rules the counts were made with (LEXICONS_KEY): a part counted with
others is measured again, so stored counts never silently disagree with the lexicons shipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import orjson
import pyarrow as pa

from cotlens.lexicon import builtin_fingerprint, builtin_keys, builtin_lexicons
from cotlens.measure import Column, Kernel
from cotlens.measure.terms import count_terms

LEXICONS_KEY = "cotlens.lexicons"
TERMS_KEY = "cotlens.lexicon_terms"


def lexicon_counts(texts: Sequence[str | None]) -> pa.Array:
    """Per text, the occurrences of every built-in lexicon term, in builtin_keys() order; null for no text."""
    terms = [t for lex in builtin_lexicons() for t in lex.terms]
    present = [i for i, t in enumerate(texts) if t is not None]
    counts = np.zeros((len(texts), len(terms)), dtype=np.int32)
    counts[present] = count_terms([texts[i] for i in present], terms)
    missing = np.array([t is None for t in texts], dtype=bool)
    offsets = np.concatenate(([0], np.cumsum(np.where(missing, 0, len(terms))))).astype(np.int32)
    values = counts[~missing].ravel()
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values), mask=pa.array(missing))


def _part_metadata() -> dict[str, str]:
    return {LEXICONS_KEY: builtin_fingerprint(), TERMS_KEY: orjson.dumps(builtin_keys()).decode()}


KERNEL = Kernel(
    "lexicon_counts",
    order=3,
    columns=(
        Column(
            "lexicon_counts",
            pa.list_(pa.int32()),
            "occurrences of every built-in lexicon term, in the order of the part's metadata",
        ),
    ),
    measure=lambda texts: {"lexicon_counts": lexicon_counts(texts)},
    metadata=_part_metadata,
    fingerprint_key=LEXICONS_KEY,
)
