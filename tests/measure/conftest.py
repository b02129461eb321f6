from __future__ import annotations

from collections.abc import Iterator

import pytest

import cotlens.measure.repetition as repetition


@pytest.fixture(scope="module", params=["compiled", "numpy"])
def gopher_kernel(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs a module's tests once with each Gopher kernel: the compiled one, then the numpy reference."""
    saved = repetition._compiled_gopher
    if request.param == "numpy":
        repetition._compiled_gopher = None
    elif saved is None:
        pytest.fail("the compiled repetition kernel was not built in this environment")
    try:
        yield request.param
    finally:
        repetition._compiled_gopher = saved
