"""The compiled parts of cotlens, plain C99 on the CPython C API: the repetition kernel,
cotlens/measure/_repetition.c, and the bootstrap's resampling weights, cotlens/_resample.c. Both are optional: where
they do not build (no C compiler, no Python headers), the install goes on without them and cotlens takes their numpy
paths, to the same values, more slowly. Everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("cotlens.measure._repetition", sources=["cotlens/measure/_repetition.c"], optional=True),
        Extension("cotlens._resample", sources=["cotlens/_resample.c"], optional=True),
    ],
)
