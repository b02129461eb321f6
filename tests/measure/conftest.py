from __future__ import annotations

from collections.abc import Iterator

import pytest

import cotlens.measure.repetition as repetition


@pytest.fixture(scope="module", params=["compiled", "numpy"])
def gopher_kernel(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs a module's tests once with each repetition kernel: the compiled one (with find_loop's compiled
    pre-check), then the numpy reference (and find_loop's Python alone)."""
    saved = repetition._compiled_gopher, repetition._compiled_may_loop
    if request.param == "numpy":
        repetition._compiled_gopher = repetition._compiled_may_loop = None
    elif None in saved:
        pytest.fail("the compiled repetition kernel was not built in this environment")
    try:
        yield request.param
    finally:
        repetition._compiled_gopher, repetition._compiled_may_loop = saved
