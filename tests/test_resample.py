"""The compiled drawing of the bootstrap's weights (cotlens/_resample.c) against numpy, its reference: the same
counts, bit for bit, as counting the indices rng.integers draws, and the generator left in the same state."""

from __future__ import annotations

import itertools
import sys
import threading
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from cotlens import stats
from tests.helpers import assert_same_numbers

compiled = stats._compiled_draw_counts


def test_the_compiled_kernel_is_in_use() -> None:
    # setup.py builds it at `pip install -e .`; CI measures what ships, so it must have been built there too.
    assert stats.draws_kernel() == "compiled"
    assert compiled is not None


def by_numpy(rows: int, n: int, dtype: type, seed: int) -> tuple[npt.NDArray[Any], dict[str, Any]]:
    """The reference: the indices numpy draws, counted row by row; and the generator's state after them."""
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, n, size=(rows, n), dtype=np.int64)
    counts = np.stack([np.bincount(row, minlength=n) for row in indices]).astype(dtype)
    return counts, rng.bit_generator.state


def by_compiled(rows: int, n: int, dtype: type, seed: int) -> tuple[npt.NDArray[Any], dict[str, Any]]:
    assert compiled is not None
    rng = np.random.default_rng(seed)
    weights = np.full((rows, n), -7.0, dtype=dtype)  # every cell must be written
    compiled(rng.bit_generator, weights)
    return weights, rng.bit_generator.state


# n: the smallest ranges (n = 1 draws nothing), ranges whose Lemire threshold 2^32 mod n is 0 (powers of two) or
# not (2^32 mod 255 = 1, mod 65537 = 1, mod 1,000,003 = 954,414, mod 7 = 4), an odd number of 32-bit draws
# (PCG64 keeps the other half of a 64-bit output for the next draw: the state must say so afterwards).
CASES = [(rows, n) for n in (1, 2, 3, 7, 255, 256) for rows in (1, 2, 1999)]
CASES += [(1, 65536), (2, 65537), (1, 1_000_003), (2, 1_000_003)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("rows", "n"), CASES)
def test_the_same_counts_and_state_as_numpy(rows: int, n: int, dtype: type) -> None:
    seed = 1000 * n + rows
    got, got_state = by_compiled(rows, n, dtype, seed)
    expected, expected_state = by_numpy(rows, n, dtype, seed)
    assert got.dtype == dtype and got.tobytes() == expected.tobytes()
    assert got_state == expected_state
    assert (got.sum(axis=1) == n).all()


def pcg64_draws(seed: int, count: int) -> list[int]:
    """The first `count` 32-bit values default_rng(seed) draws: the low, then the high half of each 64-bit one."""
    raw = np.random.default_rng(seed).bit_generator.random_raw((count + 1) // 2).astype(np.uint64)
    halves = np.column_stack([raw & np.uint64(0xFFFFFFFF), raw >> np.uint64(32)]).ravel()
    return [int(x) for x in halves[:count]]


def test_rejections_are_drawn_again_as_numpy_draws_them() -> None:
    # Lemire's rule as the kernel applies it, on numpy's own draws: the index is the high half of x * n, x
    # rejected when the low half is below 2^32 mod n. n = 3 * 2^30 rejects a quarter of the values (its weights
    # would take 12 GiB, so this part checks the rule, not the kernel).
    n = 3 * 2**30
    scaled = [x * n for x in pcg64_draws(5, 8000)]
    kept = [m >> 32 for m in scaled if m & 0xFFFFFFFF >= 2**32 % n]
    assert 1000 < len(scaled) - len(kept) < 3000
    assert kept[:4000] == np.random.default_rng(5).integers(0, n, size=4000, dtype=np.int64).tolist()
    # The kernel where it rejects one draw after another: n = 1,000,226 rejects 997,078 of the 2^32 values
    # (2^32 mod n: n - 3148), and seed 11 draws two in a row among its first n values (found by search).
    n = 1_000_226
    rejected = [x * n & 0xFFFFFFFF < 2**32 % n for x in pcg64_draws(11, n)]
    assert any(a and b for a, b in itertools.pairwise(rejected))
    got, got_state = by_compiled(1, n, np.float32, 11)
    expected, expected_state = by_numpy(1, n, np.float32, 11)
    assert got.tobytes() == expected.tobytes() and got_state == expected_state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_drawn_in_uneven_pieces_are_the_rows_drawn_at_once(dtype: type) -> None:
    assert compiled is not None
    rng = np.random.default_rng(11)
    at_once = np.empty((1999, 37), dtype=dtype)
    compiled(rng.bit_generator, at_once)
    rng = np.random.default_rng(11)
    pieces = np.empty((1999, 37), dtype=dtype)
    for start, stop in [(0, 1), (1, 8), (8, 1000), (1000, 1998), (1998, 1999)]:
        compiled(rng.bit_generator, pieces[start:stop])
    assert pieces.tobytes() == at_once.tobytes()
    # The numpy path, counting blocks of 3 rows: the same weights.
    by_blocks = np.empty((1999, 37), dtype=dtype)
    saved = stats._compiled_draw_counts
    try:
        stats._compiled_draw_counts = None
        stats._draw_weights(by_blocks, 3, np.random.default_rng(11))
    finally:
        stats._compiled_draw_counts = saved
    assert by_blocks.tobytes() == at_once.tobytes()


def test_nothing_to_draw_leaves_the_generator_alone() -> None:
    assert compiled is not None
    rng = np.random.default_rng(2)
    before = rng.bit_generator.state
    compiled(rng.bit_generator, np.empty((0, 5), dtype=np.float32))
    compiled(rng.bit_generator, np.empty((4, 0), dtype=np.float32))
    ones = np.zeros((3, 1))
    compiled(rng.bit_generator, ones)
    assert ones.tolist() == [[1.0], [1.0], [1.0]] and rng.bit_generator.state == before


@pytest.mark.parametrize(
    ("weights", "error"),
    [
        (np.zeros((4, 6), dtype=np.float32)[:, ::2], (ValueError, BufferError)),  # not contiguous
        (np.zeros((6, 4), dtype=np.float64).T, (ValueError, BufferError)),  # Fortran order
        (np.zeros((4, 6), dtype=np.int64), TypeError),
        (np.zeros((4, 6), dtype=np.float16), TypeError),
        (np.zeros((4, 6), dtype=np.dtype(">f4" if sys.byteorder == "little" else "<f4")), TypeError),
        (np.zeros(6), TypeError),
        (np.zeros((2, 3, 4)), TypeError),
        (np.zeros((4, 6)).view(np.complex128), TypeError),
        (bytearray(8), TypeError),
    ],
)
def test_other_weights_are_rejected_without_drawing(weights: Any, error: Any) -> None:
    assert compiled is not None
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    with pytest.raises(error):
        compiled(rng.bit_generator, weights)
    assert rng.bit_generator.state == before


def test_read_only_weights_and_other_generators_are_rejected() -> None:
    assert compiled is not None
    frozen = np.zeros((2, 3))
    frozen.flags.writeable = False
    with pytest.raises((ValueError, BufferError)):
        compiled(np.random.default_rng(0).bit_generator, frozen)
    with pytest.raises(AttributeError):
        compiled(np.random.default_rng(0), np.zeros((2, 3)))  # the Generator, not its bit generator
    assert frozen.tolist() == [[0.0] * 3] * 2


def test_threads_drawing_from_one_generator_take_turns() -> None:
    # The kernel draws under the bit generator's lock, as numpy does: two threads sharing a generator get whole
    # draws, the ones of some order of the calls, and the generator ends where that many calls in a row end.
    assert compiled is not None
    shared = np.random.default_rng(9)
    drawn: list[list[bytes]] = [[], []]

    def draw(into: list[bytes]) -> None:
        for _ in range(20):
            weights = np.empty((40, 501), dtype=np.float32)
            compiled(shared.bit_generator, weights)
            into.append(weights.tobytes())

    threads = [threading.Thread(target=draw, args=(drawn[i],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    alone = np.random.default_rng(9)
    in_a_row = []
    for _ in range(40):
        weights = np.empty((40, 501), dtype=np.float32)
        compiled(alone.bit_generator, weights)
        in_a_row.append(weights.tobytes())
    assert sorted(drawn[0] + drawn[1]) == sorted(in_a_row)
    assert shared.bit_generator.state == alone.bit_generator.state
    assert shared.bit_generator.lock.acquire(blocking=False)  # and the lock is free again
    shared.bit_generator.lock.release()


def test_intervals_are_the_same_with_either_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    # Groups in float32 (whole counts) and float64 (a fractional count) resampling, a ratio's two sides.
    rng = np.random.default_rng(4)
    tok = rng.integers(50, 9000, size=700).astype(np.float64)
    occ = rng.poisson(tok[:, None] * [0.001, 0.01, 0.0002]).astype(np.float64)
    fractional = occ.copy()
    fractional[0, 0] += 0.5
    results = []
    for kernel in (stats._compiled_draw_counts, None):
        monkeypatch.setattr(stats, "_compiled_draw_counts", kernel)
        results.append(
            [
                stats.rate_intervals(occ, tok, resamples=1999, seed=7),
                stats.rate_intervals(fractional, tok, resamples=301, seed=7),
                stats.ratio_of_rates(occ[:300], tok[:300], occ[300:], tok[300:], resamples=1999, seed=7),
                stats.resampled_sums(fractional, 1999, 7),
            ]
        )
    compiled_results, numpy_results = results
    for got, expected in zip(compiled_results[:3], numpy_results[:3], strict=True):
        assert_same_numbers(got, expected)
    assert compiled_results[3].tobytes() == numpy_results[3].tobytes()


def test_without_the_extension_the_numpy_path_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where it did not build (setup.py marks it optional), importing it fails and stats falls back to numpy.
    monkeypatch.setitem(sys.modules, "cotlens._resample", None)  # an import of it raises ImportError
    assert stats._compiled_draws() is None
    monkeypatch.setattr(stats, "_compiled_draw_counts", stats._compiled_draws())
    assert stats.draws_kernel() == "numpy"
    weights = np.empty((3, 5))
    stats._draw_weights(weights, 2, np.random.default_rng(1))
    assert weights.tobytes() == by_numpy(3, 5, np.float64, 1)[0].tobytes()
