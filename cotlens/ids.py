"""Transcript ids held compactly, for ingest's duplicate check: 16 bytes an id in sorted numpy arrays, where a Python
set of the 32-digit hex strings costs about 120 bytes an id (1.2 GB at 10 million transcripts, against 160 MB here).

An id is the 16-byte digest written as 32 hex digits in the store (parse.transcript_id). Ids are looked up a batch at
a time (numpy's searchsorted), never one by one in Python.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pyarrow as pa

# An array of ids: numpy's fixed-width bytes. Two ids compare as their 16 bytes do (trailing zero bytes included:
# at a fixed width, "padding" and the id's own zero bytes are the same bytes).
Ids = npt.NDArray[np.bytes_]
ID_BYTES = 16
ID_DTYPE = np.dtype(f"S{ID_BYTES}")

# Hex digit -> its value; 255 for any other byte (upper case counts, as for bytes.fromhex).
_NIBBLE = np.full(256, 255, dtype=np.uint8)
for _value, _digit in enumerate(b"0123456789abcdef"):
    _NIBBLE[_digit] = _NIBBLE[ord(chr(_digit).upper())] = _value


def empty_ids() -> Ids:
    return np.empty(0, dtype=ID_DTYPE)


def ids_from_hex(texts: Iterable[str]) -> Ids:
    """Ids from their hex form (computed ids: always valid), in order."""
    return np.array([bytes.fromhex(t) for t in texts], dtype=ID_DTYPE).reshape(-1)


def ids_from_column(column: pa.Array | pa.ChunkedArray) -> Ids:
    """The ids of a column of hex strings, in order, without making a Python object per value. A value that is not
    32 hex digits (a hand-edited store) cannot equal a computed id and is left out."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    return np.concatenate([empty_ids(), *(_chunk_ids(c) for c in chunks)])


# Values decoded at a time: bounds the index arrays of a column that is not all ids.
_SLICE = 1 << 16


def _chunk_ids(array: pa.Array) -> Ids:
    array = array.cast(pa.large_string())  # 64-bit offsets, whatever the stored type
    pieces = [_slice_ids(array.slice(start, _SLICE)) for start in range(0, len(array), _SLICE)]
    return np.concatenate([empty_ids(), *pieces])


def _slice_ids(array: pa.Array) -> Ids:
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    whole = (np.diff(offsets) == 2 * ID_BYTES) & ~_nulls(array)
    if whole.all():  # every value 32 characters long: they lie end to end
        digits = _NIBBLE[data[offsets[0] : offsets[-1]].reshape(-1, 2 * ID_BYTES)]
    else:
        digits = _NIBBLE[data[offsets[:-1][whole][:, None] + np.arange(2 * ID_BYTES)]]
    digits = digits[(digits != 255).all(axis=1)]
    raw = (digits[:, 0::2] << 4) | digits[:, 1::2]
    return np.ascontiguousarray(raw).view(ID_DTYPE).reshape(-1)


def _nulls(array: pa.Array) -> npt.NDArray[np.bool_]:
    if not array.null_count:
        return np.zeros(len(array), dtype=bool)
    return np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def sorted_ids(ids: Ids) -> Ids:
    """The ids sorted, each once (sorted in place: `ids` is consumed)."""
    ids.sort()
    if len(ids) < 2:
        return ids
    distinct = np.empty(len(ids), dtype=bool)
    distinct[0] = True
    np.not_equal(ids[1:], ids[:-1], out=distinct[1:])
    return ids if distinct.all() else ids[distinct]


def contains(sorted_array: Ids, ids: Ids) -> npt.NDArray[np.bool_]:
    """For each of `ids`, whether it is in `sorted_array` (sorted)."""
    if not len(sorted_array) or not len(ids):
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_array, ids), len(sorted_array) - 1)
    found: npt.NDArray[np.bool_] = sorted_array[at] == ids
    return found


# SeenIds' filter: one bit per value of an id's first 27 bits (16 MiB). Ids are digests, so at 10 million ids about 7%
# of the new ones share a bit with a seen one and are looked up in the sorted arrays; the others are known new at
# once (a lookup of 1,500 ids in every array costs milliseconds, the filter microseconds).
FILTER_BITS = 27


class SeenIds:
    """The ids seen so far by an ingest run: those stored before it (one sorted array) and those it added (sorted
    arrays whose sizes halve from the first, merged as a binary counter carries: each id is merged about log2(n)
    times), behind a filter that answers "not seen" for most new ids without a lookup."""

    def __init__(self, stored: Ids) -> None:
        self.stored = sorted_ids(stored)
        self._added: list[Ids] = []
        self._filter = np.zeros(1 << (FILTER_BITS - 3), dtype=np.uint8)
        self._mark(self.stored)

    def __len__(self) -> int:
        return len(self.stored) + sum(map(len, self._added))

    def contains(self, ids: Ids) -> npt.NDArray[np.bool_]:
        found = np.zeros(len(ids), dtype=bool)
        byte, bit = _filter_slots(ids)
        maybe = np.flatnonzero((self._filter[byte] >> bit) & 1)
        if len(maybe):
            maybe = maybe[np.argsort(ids[maybe])]  # sorted keys: each search starts where the last one ended
            wanted = ids[maybe]
            hit = contains(self.stored, wanted)
            for level in self._added:
                hit |= contains(level, wanted)
            found[maybe] = hit
        return found

    def first_seen(self, ids: Ids) -> npt.NDArray[np.bool_]:
        """For each of `ids` in order, True the first time it is offered (neither seen before nor earlier in
        `ids`), False for a duplicate; the new ones are remembered."""
        first = np.zeros(len(ids), dtype=bool)
        first[np.unique(ids, return_index=True)[1]] = True
        new = first & ~self.contains(ids)
        if new.any():
            self._add(np.sort(ids[new]))
        return new

    def _add(self, level: Ids) -> None:
        self._mark(level)
        while self._added and len(self._added[-1]) <= len(level):
            # Two sorted runs: the stable sort (a timsort) merges them in one pass.
            level = np.sort(np.concatenate([self._added.pop(), level]), kind="stable")
        self._added.append(level)

    def _mark(self, ids: Ids) -> None:
        byte, bit = _filter_slots(ids)
        np.bitwise_or.at(self._filter, byte, np.left_shift(1, bit).astype(np.uint8))


def _filter_slots(ids: Ids) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """Each id's byte and bit in the filter: its first FILTER_BITS bits."""
    slot = ids.view(">u4").reshape(-1, ID_BYTES // 4)[:, 0] >> np.uint32(32 - FILTER_BITS)
    return (slot >> np.uint32(3)).astype(np.uint32), (slot & np.uint32(7)).astype(np.uint32)
