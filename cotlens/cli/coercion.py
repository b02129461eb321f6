"""Option values converted without pydantic when they plainly are what their annotation asks for.

typer converts every option value through a pydantic TypeAdapter built per parameter: importing pydantic and
building a command's adapters cost 0.065 of the 0.117 CPU-s that parsing `rates`' options took (bench_startup.py,
bench/README.md). The values cotlens' options take are strings, lists of strings, paths, flags and bounded numbers;
`_Plain` returns such a value as typer would (a path still through typer's own checks) and hands anything else (a
value it does not plainly recognize, one out of bounds) to typer's converter, built then. So every error message,
and every value that is not plain, is typer's own.

It replaces the method through which typer's parameters build their converter (`get_runtime_param`), a private
one: with a typer that has no such method (or none of the modules imported here), nothing is replaced and typer
converts as it always does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from typer._click import Context
from typer._coercion import RuntimeParam, build_runtime_param, resolve_type_descriptor
from typer._param_types import coerce_cli_path
from typer.core import _TyperParameter

# A value typer's converter would give as it is: nothing else was plain (see _plain).
_NOT_PLAIN = object()
# Whole numbers and decimals as option values are written; anything else (signs, spaces, "1_000", "1e3", "nan")
# goes through typer's converter. Short enough that int() never meets Python's digit limit.
_INTEGER = re.compile(r"-?[0-9]{1,18}")
_DECIMAL = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,18})?")


def install() -> None:
    """Have typer's parameters convert through `_Plain` (they build their converter when first asked for one)."""
    if hasattr(_TyperParameter, "get_runtime_param"):
        _TyperParameter.get_runtime_param = _runtime_param  # type: ignore[method-assign]


def _runtime_param(self: _TyperParameter) -> RuntimeParam:
    """typer's _TyperParameter.get_runtime_param, building `_Plain` (or typer's for a file to open) instead."""
    if self._runtime_param is None:
        descriptor = self.type_descriptor
        if descriptor.file_annotation is None:
            self._runtime_param = _Plain(descriptor.parameter_info, descriptor.annotation)
        else:
            self._runtime_param = build_runtime_param(descriptor)
    return self._runtime_param


@dataclass(frozen=True)
class _Plain(RuntimeParam):
    """typer's conversion of one parameter, without pydantic for a plain value."""

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
        plain = _plain(self.annotation, self.parameter_info, value, param, ctx)
        if plain is not _NOT_PLAIN:
            return plain
        typer = build_runtime_param(resolve_type_descriptor(self.annotation, self.parameter_info))
        return typer._coerce_value(value, param=param, ctx=ctx)


def _plain(annotation: Any, info: Any, value: Any, param: _TyperParameter, ctx: Context) -> Any:
    """The value typer's converter gives for a plain one (build_leaf_adapter's cases, in its order), else
    _NOT_PLAIN."""
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        if not isinstance(value, (list, tuple)):
            return _NOT_PLAIN
        items = [_plain(item, info, v, param, ctx) for v in value]
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in items) else items
    if get_origin(annotation) is not None or info.parser is not None or info.clamp:
        return _NOT_PLAIN
    if annotation is bool:
        return value if isinstance(value, bool) else _NOT_PLAIN
    if annotation is int:
        number = _number(value, int, _INTEGER)
        return number if _within(number, info) else _NOT_PLAIN
    if annotation is float:
        number = _number(value, float, _DECIMAL)
        return number if _within(number, info) else _NOT_PLAIN
    if annotation is str:
        return value if type(value) is str else _NOT_PLAIN
    if annotation is Path and info.path_type is None and type(value) is str:
        # typer's own path checks (exists, readable...), given a Path so that they need no pydantic.
        return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    return _NOT_PLAIN


def _number(value: Any, kind: type[int] | type[float], written: re.Pattern[str]) -> Any:
    if type(value) is kind or (kind is float and type(value) is int):
        return kind(value)
    if type(value) is str and written.fullmatch(value):
        return kind(value)
    return _NOT_PLAIN


def _within(number: Any, info: Any) -> bool:
    if number is _NOT_PLAIN:
        return False
    return (info.min is None or number >= info.min) and (info.max is None or number <= info.max)
