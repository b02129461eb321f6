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
