from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from cotlens import groups
from cotlens.groups import IntervalOptions, RatioSums, group_intervals, resample_groups
from cotlens.stats import BOOTSTRAP_MAX_TRANSCRIPTS, RATIO_SIDES
from tests.helpers import assert_same_numbers


def test_a_share_never_has_an_upper_bound_above_one() -> None:
    # Four transcripts, one almost wholly non-Latin: on the log scale the rate interval of the share reaches past 1;
    # a share cannot, so its upper end is held to 1 and the rest of the interval is the rate interval's.
    sums = RatioSums()
    sums.add(np.array([[9], [0], [1], [0]]), np.array([10, 10, 10, 10]))
    options = IntervalOptions(resamples=999)
    rates, shares = sums.intervals(options, per=1.0), sums.share_intervals(options)
    assert rates.high[0] > 1.0
    assert shares.high[0] == 1.0
    assert shares.low[0] == rates.low[0] and shares.estimate[0] == rates.estimate[0] == 0.25


def test_only_the_numerators_marked_as_shares_are_held_to_one() -> None:
    # Two numerators over the same tokens: the first a share of them, the second a count that may outnumber them
    # (as compare's per-token metrics other than shares may): only the first is capped.
    sums = RatioSums()
    sums.add(np.array([[9, 30], [0, 0], [1, 2], [0, 0]]), np.array([10, 10, 10, 10]))
    options = IntervalOptions(resamples=999)
    rates, marked = sums.intervals(options, per=1.0), sums.share_intervals(options, [True, False])
    assert rates.high[0] > 1.0 and rates.high[1] > 1.0
    assert marked.high[0] == 1.0
    assert marked.high[1] == rates.high[1]


def test_resampling_drawn_apart_gives_the_ratios_and_intervals_drawn_in_place() -> None:
    # compare draws every group's resamples at once (in workers when it has them), a ratio's baseline once for all
    # its candidates: handed back, they must give the numbers the groups draw themselves, bit for bit; over two
    # blocks of resamples (1001 = 1000 + 1), each seeded on its own.
    rng = np.random.default_rng(8)
    baseline, side = RatioSums(), RatioSums()
    for group, n, rate in ((baseline, 120, 0.01), (side, 80, 0.02)):
        tokens = rng.integers(20, 400, size=n)
        group.add(rng.poisson(tokens[:, None] * [rate, rate / 3]), tokens)
        group.add(np.array([[0, 0]]), np.array([0]))  # a transcript without tokens
    options = IntervalOptions(resamples=1001, seed=5)
    tasks = [((side,), ()), ((baseline,), RATIO_SIDES[0]), ((side,), RATIO_SIDES[1])]
    drawn = [moments for [moments] in resample_groups(tasks, options, None)]
    assert [d.shape for d in drawn] == [(1001, 3 * 2 + 2)] * 3
    assert not np.array_equal(drawn[0], drawn[2])  # a ratio's side draws its own stream
    assert_same_numbers(side.intervals(options), side.intervals(options, resampled=drawn[0]))
    ratio = side.ratio_to(baseline, options)
    assert_same_numbers(ratio, side.ratio_to(baseline, options, (drawn[1], drawn[2])))
    wrong = side.ratio_to(baseline, options, (drawn[2], drawn[1]))  # the sides swapped: other numbers
    assert wrong.low.tobytes() != ratio.low.tobytes()


def test_groups_are_resampled_a_batch_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Memory for the resampled moments is bounded by _DRAWN_BYTES, not by the number of groups: with room for one
    # group's, each is drawn on its own, and the intervals are the ones drawn all at once. A group past the
    # bootstrap's size takes the delta method and draws nothing.
    rng = np.random.default_rng(2)
    small, other, large = RatioSums(), RatioSums(), RatioSums()
    for group, n in ((small, 50), (other, 70), (large, BOOTSTRAP_MAX_TRANSCRIPTS + 1)):
        tokens = rng.integers(10, 100, size=n)
        group.add(rng.poisson(tokens[:, None] * [0.05, 0.2]), tokens)
    options = IntervalOptions(resamples=499)
    assert [g.resampled_bytes(options) for g in (small, large)] == [499 * (3 * 2 + 2) * 8, 0]
    batches: list[int] = []
    draw = groups.resample_groups

    def recorded(tasks: Any, *args: Any) -> Any:
        batches.append(len(tasks))
        return draw(tasks, *args)

    monkeypatch.setattr(groups, "resample_groups", recorded)
    together = group_intervals([small, large, other], options, None)
    monkeypatch.setattr(groups, "_DRAWN_BYTES", small.resampled_bytes(options))
    apart = group_intervals([small, large, other], options, None)
    assert batches == [2, 1, 1]  # all at once; then small (and large, which draws nothing), then other
    for a, b in zip(together, apart, strict=True):
        assert_same_numbers(a, b)
    assert apart[1].method == "delta"
