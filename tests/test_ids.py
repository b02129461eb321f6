"""Transcript ids held compactly: decoded from the store's hex column without Python strings, and the run's
first-occurrence-wins check over sorted arrays."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

from cotlens.ids import ID_DTYPE, SeenIds, contains, ids_from_column, ids_from_hex, sorted_ids

A = "00" * 16
B = "0123456789abcdef" * 2
C = "ff" * 15 + "00"  # a trailing zero byte is part of the id


def ids(*texts: str) -> np.ndarray:
    return ids_from_hex(texts)


def test_a_column_decodes_to_the_ids_bytes_in_order() -> None:
    decoded = ids_from_column(pa.array([B, A, C]))
    assert decoded.dtype == ID_DTYPE
    assert decoded.tobytes().hex() == B + A + C
    assert (decoded == ids(B, A, C)).all()


def test_values_that_are_not_32_hex_digits_are_left_out() -> None:
    column = pa.array([B, "not an id", None, B[:-1], B + "0", "g" * 32, B.upper(), "é" * 16, A])
    # Upper case digits read as bytes.fromhex reads them; "é" is two bytes: 32 bytes but not digits.
    assert (ids_from_column(column) == ids(B, B, A)).all()


def test_slices_chunks_and_large_strings_decode_alike() -> None:
    whole = pa.array([A, "x", B, C])
    expected = ids(B, C)
    assert (ids_from_column(whole.slice(2)) == expected).all()
    assert (ids_from_column(pa.chunked_array([whole.slice(0, 2), whole.slice(2)])) == ids(A, B, C)).all()
    assert (ids_from_column(whole.cast(pa.large_string()).slice(1)) == expected).all()
    assert len(ids_from_column(pa.chunked_array([], pa.string()))) == 0


def test_sorted_ids_keeps_each_once() -> None:
    assert (sorted_ids(ids(C, A, B, A, C)) == ids(A, B, C)).all()
    assert (contains(ids(A, C), ids(B, C, A)) == [False, True, True]).all()


def test_first_occurrence_wins_within_a_batch_across_batches_and_against_the_store() -> None:
    seen = SeenIds(ids(C))
    assert seen.first_seen(ids(A, C, A, B)).tolist() == [True, False, False, True]
    assert seen.first_seen(ids(B, A)).tolist() == [False, False]
    assert seen.first_seen(ids()).tolist() == []
    assert len(seen) == 3


def test_many_batches_agree_with_a_python_set() -> None:
    rng = random.Random(7)
    pool = [rng.randbytes(16).hex() for _ in range(300)]
    stored = pool[:50]
    seen, reference = SeenIds(ids(*stored)), set(stored)
    for _ in range(200):
        batch = [rng.choice(pool) for _ in range(rng.randint(0, 9))]
        expected = []
        for text in batch:
            expected.append(text not in reference)
            reference.add(text)
        assert seen.first_seen(ids(*batch)).tolist() == expected
    assert len(seen) == len(reference)
