"""The one compiled part of cotlens: the repetition kernel, cotlens/measure/_repetition.c (plain C99 on the
CPython C API). It is optional: where it does not build (no C compiler, no Python headers), the install goes on
without it and cotlens measures repetition with its numpy path, to the same values, more slowly. Everything else
about the package is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("cotlens.measure._repetition", sources=["cotlens/measure/_repetition.c"], optional=True),
    ],
)
