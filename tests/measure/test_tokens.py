"""o200k_base counts from bpe-openai equal tiktoken's, on the vocabulary bpe-openai ships (no download)."""

from __future__ import annotations

import base64
import gzip
import json
from importlib import resources

import pytest

from cotlens.measure.tokens import count_tokens
from tests.conftest import FORMATS


@pytest.fixture(scope="module")
def tiktoken_o200k():  # type: ignore[no-untyped-def]
    tiktoken = pytest.importorskip("tiktoken")
    import tiktoken_ext.openai_public as public

    data = (resources.files("bpe_openai") / "data" / "o200k_base.tiktoken.gz").read_bytes()
    ranks = {
        base64.b64decode(tok): int(rank)
        for tok, rank in (line.split() for line in gzip.decompress(data).splitlines() if line)
    }
    original = public.load_tiktoken_bpe
    public.load_tiktoken_bpe = lambda *args, **kwargs: ranks
    try:
        spec = public.o200k_base()
    finally:
        public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**spec)


AWKWARD = [
    "",
    "Hmm, wait. Let me re-check: 17 × 23 = 391.",
    "I think it's堪培拉, right? This循环 seems pointless. Perhaps I misпарсил",
    "<|endoftext|> and <|channel|>analysis<|message|> are text here",
    "   leading spaces\n\n\ttabs\r\nCRLF   ",
    "emoji 🤔🧠 and ｗａｉｔ and naïve and θ Δ π and ٣ and 𝑥",
    "def f(x):\n    return x**2  # ünïcödé",
    "\u0000 NUL and \u001b[31m ANSI",
]


def test_counts_equal_tiktoken(tiktoken_o200k) -> None:  # type: ignore[no-untyped-def]
    texts = list(AWKWARD)
    for path in sorted(FORMATS.glob("*.jsonl")):
        texts.append(path.read_text(encoding="utf-8"))
    expected = json.loads((FORMATS / "expected.json").read_text(encoding="utf-8"))
    texts += [t[k] for rows in expected.values() for t in rows for k in ("reasoning", "answer") if t[k]]
    assert count_tokens(texts) == [len(tiktoken_o200k.encode_ordinary(t)) for t in texts]


def test_no_text_no_count() -> None:
    assert count_tokens([None, ""]) == [None, 0]
