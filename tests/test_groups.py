from __future__ import annotations

import numpy as np

from cotlens.groups import IntervalOptions, RatioSums


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
