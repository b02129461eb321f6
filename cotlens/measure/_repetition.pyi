# The compiled repetition kernel (_repetition.c), when it was built at install.
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

def gopher(texts: Sequence[str | None], out: npt.NDArray[np.float64], /) -> None: ...
def may_loop(text: str, window: int, probe: int, compare: int, candidates: int, /) -> bool: ...
