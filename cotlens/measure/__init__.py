"""Measurements: pure kernels from a batch of texts to columns, and the registry that finds them.

Every module of this package that defines `KERNEL` (a `Kernel`) is registered, as input formats are in formats/.
A kernel declares its output columns (name, Arrow type, what it means) and the metrics derived from them; the
store's schema (record.py), the operands of `filter --where` (conditions.py) and the metrics of `compare` are
assembled from these declarations. Adding a measurement is one new module here, plus its test.

Kernels know nothing of the store: text in, columns out. Measuring stored transcripts is cotlens/intrinsic.py's.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pyarrow as pa

__all__ = ["PER_TOKEN", "Column", "Kernel", "Metric", "kernel_registry", "registered_kernels"]


@dataclass(frozen=True, slots=True)
class Column:
    """One output column of a kernel, stored for each measured text as `<text>_<name>`; null where the text is.
    `flag` / `text`: the name a `filter --where` condition gives this column as a flag (a bool) or as a text
    compared with a word (a string); None: not one."""

    name: str
    type: pa.DataType
    description: str
    flag: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Metric:
    """A number per transcript derived from the columns of its text: the `numerator` column itself, or `scale` x
    numerator / denominator (0 where the denominator is 0: an empty text has no share of anything). `filter
    --where` tests it per transcript (`operand`); `compare` estimates it over a group as a ratio of sums (when
    it has a `label`), per token (denominator PER_TOKEN) or per transcript (None). `kind` is how compare shows
    it: "rate" (per 1000 tokens), "share" (of tokens; per transcript, of a 0/1 flag: Wilson bounds) or "mean".
    Columns are named without their `<text>_` prefix; `chars` (the record's lengths) may be named too."""

    key: str
    numerator: str
    denominator: str | None = None
    scale: float = 1.0
    operand: bool = True
    label: str | None = None
    kind: str = "mean"

    def __post_init__(self) -> None:
        if self.label is not None and self.denominator not in (None, PER_TOKEN):
            raise ValueError(
                f"metric {self.key}: compare estimates a metric per {PER_TOKEN} or per transcript"
            )


# The denominator of a metric per token: the exact token count (measure/tokens.py).
PER_TOKEN = "tokens_o200k"


@dataclass(frozen=True, slots=True, eq=False)  # one object per kernel: compared and hashed by identity
class Kernel:
    """A measurement: `measure` maps a batch of texts (None for a missing one) to one array (or list) per column,
    in text order. `order` places its columns in the store's schema. `metadata`, when a kernel's values depend on
    more than the text (the lexicons whose terms it counts): key-value pairs written into every part file; a part
    written under another `fingerprint_key` value than today's is measured again."""

    name: str
    order: int
    columns: tuple[Column, ...]
    measure: Callable[[Sequence[str | None]], Mapping[str, Any]]
    metrics: tuple[Metric, ...] = ()
    metadata: Callable[[], dict[str, str]] | None = None
    fingerprint_key: str | None = None

    def measure_arrays(self, texts: Sequence[str | None]) -> dict[str, pa.Array]:
        """`measure`'s output as Arrow arrays of the declared types."""
        out = self.measure(texts)
        return {
            c.name: out[c.name] if isinstance(out[c.name], pa.Array) else pa.array(out[c.name], c.type)
            for c in self.columns
        }


@lru_cache(maxsize=1)
def kernel_registry() -> dict[str, Kernel]:
    """Every kernel found in this package, by name (a test may register one of its own here, then remove it)."""
    found: dict[str, Kernel] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        kernel = getattr(module, "KERNEL", None)
        if isinstance(kernel, Kernel):
            found[kernel.name] = kernel
    return found


def registered_kernels() -> tuple[Kernel, ...]:
    """The registered kernels, in schema order."""
    return tuple(sorted(kernel_registry().values(), key=lambda k: (k.order, k.name)))
