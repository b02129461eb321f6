"""Input shapes: a registry of every module in this package that defines `FORMAT`, and sniffing.

Adding a shape is one new module (plus its fixture and test); nothing here needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from cotlens.errors import CotlensError, UnknownShapeError
from cotlens.formats._fields import JSONObject, seen_keys
from cotlens.formats.base import Context, Format

__all__ = ["Context", "Format", "detect_format", "get_format", "registered_formats"]


@lru_cache(maxsize=1)
def registered_formats() -> tuple[Format, ...]:
    """Every registered format, in sniffing order."""
    found: list[Format] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        fmt = getattr(module, "FORMAT", None)
        if fmt is not None:
            found.append(fmt)
    return tuple(sorted(found, key=lambda f: (f.priority, f.name)))


@lru_cache(maxsize=1)
def sniffable_formats() -> tuple[Format, ...]:
    return tuple(f for f in registered_formats() if f.priority < NOT_SNIFFED)


# Formats at or above this priority are only used when named (`--from mapping`).
NOT_SNIFFED = 1000


def get_format(name: str) -> Format:
    for fmt in registered_formats():
        if fmt.name == name:
            return fmt
    names = ", ".join(f.name for f in registered_formats())
    raise CotlensError(f"unknown input format {name!r}; known formats: auto, {names}")


def detect_format(obj: JSONObject, previous: Format | None = None) -> Format:
    """The first format whose sniff accepts `obj`; the previous record's format is tried first (files are
    usually uniform, so this is one check per record)."""
    if previous is not None and previous.sniff(obj):
        return previous
    for fmt in sniffable_formats():
        if fmt.sniff(obj):
            return fmt
    raise UnknownShapeError(describe_unknown(obj))


def describe_unknown(obj: JSONObject) -> str:
    keys = seen_keys(obj) or "(none)"
    names = ", ".join(f.name for f in sniffable_formats())
    return (
        f"unknown shape: keys seen: {keys}; known shapes: {names}; "
        "for another shape, describe it with --map (see README, 'Odd shapes')"
    )
