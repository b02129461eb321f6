"""Exact token counts with OpenAI's o200k_base BPE, offline.

The yardstick is the same for every model, so rates are comparable across models whose own tokenizers differ.
`bpe-openai` ships the o200k_base vocabulary in its wheel (nothing is downloaded) and counts about 13 MB/s per
thread here, 2-3x tiktoken; tests/measure/test_tokens.py checks that its counts equal tiktoken's `encode_ordinary`.
Special-token strings in transcript text ("<|endoftext|>", harmony markers) are counted as ordinary text.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import pyarrow as pa

from cotlens.measure import Column, Kernel, Metric

TOKENIZER = "o200k_base"


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    return _bindings().tokenizer_for_encoding(TOKENIZER)


def _bindings() -> Any:
    """The Rust extension alone. `import bpe_openai` would also run its tiktoken-compatibility layer, which
    decodes both vocabularies in Python (0.5 s per process here, paid again by every worker); the extension
    carries its own copy and loads in 0.05 s."""
    import importlib.machinery
    import importlib.util

    spec = importlib.util.find_spec("bpe_openai")  # locates the package without running its __init__
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = f"{folder}/_bindings{suffix}"
            try:
                loader = importlib.machinery.ExtensionFileLoader("bpe_openai._bindings", path)
                module_spec = importlib.util.spec_from_loader("bpe_openai._bindings", loader)
                if module_spec is None:
                    continue
                module = importlib.util.module_from_spec(module_spec)
                loader.exec_module(module)
                return module
            except (ImportError, OSError):
                continue
    from bpe_openai import _bindings  # the package layout changed: the ordinary, slower import

    return _bindings


@lru_cache(maxsize=1)
def tokenizer_description() -> str:
    # Imported here: importlib.metadata (and the email parser it reads metadata with) take about 0.01-0.02 s,
    # which only the outputs that name the tokenizer need, not every process that counts tokens.
    from importlib.metadata import version

    return f"{TOKENIZER} (bpe-openai {version('bpe-openai')})"


def count_tokens(texts: Sequence[str | None]) -> list[int | None]:
    """o200k_base token count of each text; None stays None (no text, no count)."""
    count = _tokenizer().count
    return [None if text is None else count(text) for text in texts]


def _token_columns(texts: Sequence[str | None]) -> dict[str, list[int | None]]:
    return {"tokens_o200k": count_tokens(texts)}


KERNEL = Kernel(
    "tokens",
    order=0,
    columns=(Column("tokens_o200k", pa.int64(), "exact o200k_base token count"),),
    measure=_token_columns,
    metrics=(
        Metric("tokens", "tokens_o200k"),
        # The record's own length column (parse stores it with the text): listed here, beside the token count.
        Metric("chars", "chars"),
        Metric("tokens_mean", "tokens_o200k", operand=False, label="tokens, mean", kind="mean"),
    ),
)
