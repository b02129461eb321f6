# The compiled drawing of the bootstrap's weights (_resample.c), when it was built at install.
from typing import Any

import numpy as np
import numpy.typing as npt

def draw_counts(bit_generator: np.random.BitGenerator, weights: npt.NDArray[np.floating[Any]], /) -> None: ...
