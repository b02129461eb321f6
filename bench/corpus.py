"""A deterministic synthetic corpus of LLM reasoning transcripts, for benchmarks.

    .venv/bin/python bench/corpus.py --size-mb 50 --out bench-data/corpus.jsonl

One JSON Lines file of about `size_mb` MB (1 MB = 10^6 bytes), records interleaved in shuffled groups of four:

- 50% OpenAI chat completion objects, DeepSeek-style: `choices[0].message.reasoning_content` and
  `content`, `usage.completion_tokens_details.reasoning_tokens`, `finish_reason` ("length" for ~2%: reasoning
  cut short, no answer);
- 25% Anthropic Messages responses: a `thinking` block (with `signature`) and a `text` block, `stop_reason`
  ("max_tokens" for ~2%, no text block), `usage.input_tokens` / `output_tokens`;
- 25% flat records `{"id", "model", "prompt", "response": "<think>\\n...\\n</think>\\n\\n..."}`.

Reasoning is ~150-4000 words, log-normal (median ~700, long right tail), assembled from a pool of sentences
pre-built from templates over a few hundred words ("Wait, let me check", "Hmm", arithmetic, code snippets);
about a third of transcripts mix in non-ASCII sentences (accents, CJK, Cyrillic, an emoji). Every record has a
unique id. The output depends only on (size_mb, seed): `random.Random(seed)`, no clock, no hash randomisation.
Speed: sentences are drawn from the pre-built pools, so generation runs at ~80-100 MB/s.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import operator
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Bump when the generated text changes, so that cached corpora are not reused across generator versions.
GENERATOR_VERSION = 1
MB = 1_000_000

OPENAI_MODELS = ("deepseek-r1", "qwen3-235b-a22b")
ANTHROPIC_MODELS = ("claude-sonnet-4-5", "claude-opus-4-1")
THINK_TAG_MODELS = ("deepseek-r1-distill-qwen-32b",)
MODELS = OPENAI_MODELS + ANTHROPIC_MODELS + THINK_TAG_MODELS  # five in all
SHAPE_CYCLE = ("openai", "openai", "anthropic", "think-tags")  # shuffled per group of four

MIN_WORDS, MAX_WORDS = 150, 4000
MEDIAN_WORDS, SIGMA = 700, 0.8
TRUNCATED_SHARE = 0.02
NON_ASCII_SHARE = 1 / 3
POOL_SIZE = 6000
CREATED_BASE = 1_735_689_600  # 2025-01-01T00:00:00Z; ids and timestamps come from the record number


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


NOUNS = _words("""
answer approach array assumption base bound branch case cell coefficient column condition constraint
count cycle denominator derivative digit distance edge equation error estimate example exponent
expression factor formula fraction function graph hypothesis index input integer interval lemma length
limit list loop matrix maximum method minimum modulus node number numerator operation order pair
parameter path pattern point polynomial prime probability problem product proof quantity query question
range rate ratio reasoning recursion remainder result root row rule sequence series set side solution
speed square step string subproblem substitution sum symmetry table term test total tree triangle unit
value variable vector weight width window
""")
VERBS = _words("""
add apply assume bound check choose combine compare compute consider count define derive divide double
estimate evaluate expand factor find fix group halve handle include isolate iterate list map merge
multiply normalize note plug prove recheck recompute reduce rewrite round scan simplify solve sort split
square subtract substitute sum test trace try update verify write
""")
ADJECTIVES = _words("""
bigger constant correct distinct empty equal even exact final finite first fixed invalid larger last
linear negative nonzero odd optimal positive possible previous prime smaller small smallest sorted
strict symmetric total unique valid wrong zero
""")
ADVERBS = _words("""
actually again carefully clearly directly exactly first maybe now probably quickly really simply still then
""")
PREPS = _words("of in for from over with against across under into")
NAMES = _words("x y n k m i j a b c p q")
OPS: tuple[tuple[str, Callable[[int, int], int]], ...] = (
    ("+", operator.add),
    ("-", operator.sub),
    ("*", operator.mul),
)

TEMPLATES = (
    "Wait, let me check the {noun} again.",
    "Wait, let me check: {a} {op} {b} = {r}.",
    "Hmm, {adv} the {noun} {prep} the {noun2} is {adj}.",
    "Hmm.",
    "Hmm, that doesn't look {adj}.",
    "Okay, so we need to {verb} the {noun} {prep} the {noun2}.",
    "Let me {verb} the {noun} {adv}.",
    "So {name} = {a} {op} {b} = {r}.",
    "That gives {r}, which is {adj}.",
    "Actually, that's not right: the {noun} should be {adj}.",
    "Alternatively, I could {verb} each {noun} and then {verb2} the {noun2}.",
    "If {name} is {adj}, then the {noun} is at most {a}.",
    "So the {noun} is {a}, and the {noun2} is {b}.",
    "But wait, what about the case where {name} = {a}?",
    "Let me try a small example with {name} = {a}.",
    "Then {verb} again: {a} {op} {b} gives {r}.",
    "I think the {adj} {noun} works, but let me {verb} it.",
    "No, that would make the {noun} {adj}, so {verb} the {noun2} instead.",
    "The {noun} {prep} {name} is {a} percent of the {noun2}.",
    "Right, so step {a}: {verb} the {noun}.",
    "First, {verb} the {noun}; second, {verb2} the {noun2}.",
    "In code that would be `{name} = {name} {op} {a}`.",
)
CODE_TEMPLATES = (
    "\n\n```python\ndef {verb}_{noun}({name}):\n    return {name} {op} {a}\n```\n\n",
    "\n\n```python\nfor {name} in range({a}):\n    total += {name} {op} {b}\n```\n\n",
    "\n\n```js\nconst {noun} = items.filter(({name}) => {name} > {a});\n```\n\n",
)
NON_ASCII_SENTENCES = (
    "The café's naïve résumé has a façade, déjà vu.",
    "In Chinese the {noun} is written 问题, and the {noun2} is 答案.",
    "The Russian word for {noun} here is задача, or ответ for the {noun2}.",
    "Hmm, 🤔 let me {verb} the {noun} once more.",
    "So the {noun} is {a} €, roughly {b} £ — close enough.",
    "Über-careful: {name} ≥ {a} and {name} ≤ {b}, so {name} ∈ [{a}, {b}].",
    "Let me re-read the question: 日本語 text, 中文, and Ελληνικά all appear.",
    "Zürich to Kraków is about {a} km, naïvely speaking.",
    "The answer √{a} ≈ {r} looks right ✅.",
)
ANSWER_TEMPLATES = (
    "The {noun} is **{r}**.",
    "So the final {noun} is {r}, since the {noun2} is {adj}.",
    "To {verb} the {noun}, {verb2} the {noun2} first and then apply the {adj} {noun}.",
    "**Answer:** {r}",
    "In short: {verb} the {noun}, then {verb2} the {noun2}; the result is {r}.",
    "- {verb} the {noun}\n- {verb2} the {noun2}\n- check that the {noun} is {adj}",
)
PROMPT_TEMPLATES = (
    "What is {a} {op} {b}?",
    "How do I {verb} the {noun} {prep} a {noun2} in Python?",
    "Prove that the {noun} {prep} the {noun2} is {adj}.",
    "A train travels {a} km in {b} hours. What is its speed?",
    "Find the smallest {name} such that {name} {op} {a} is {adj}.",
    "Explain why the {noun} is {adj} when the {noun2} is {adj2}.",
)


def _fill(template: str, rng: random.Random) -> str:
    """One template with random words and consistent arithmetic."""
    a, b = rng.randint(2, 999), rng.randint(2, 99)
    symbol, fn = rng.choice(OPS)
    return template.format(
        noun=rng.choice(NOUNS),
        noun2=rng.choice(NOUNS),
        verb=rng.choice(VERBS),
        verb2=rng.choice(VERBS),
        adj=rng.choice(ADJECTIVES),
        adj2=rng.choice(ADJECTIVES),
        adv=rng.choice(ADVERBS),
        prep=rng.choice(PREPS),
        name=rng.choice(NAMES),
        a=a,
        b=b,
        op=symbol,
        r=fn(a, b),
    )


def _pool(templates: tuple[str, ...], size: int, rng: random.Random) -> list[str]:
    return [_fill(rng.choice(templates), rng) for _ in range(size)]


@dataclass(frozen=True)
class SentencePools:
    """Sentences pre-built once; a transcript is a random selection of them, which keeps generation fast."""

    reasoning: list[str]  # each ends with its separator: " " or a paragraph break
    non_ascii: list[str]
    answers: list[str]
    prompts: list[str]
    mean_words: float

    @classmethod
    def build(cls, rng: random.Random) -> SentencePools:
        sentences = _pool(TEMPLATES, POOL_SIZE, rng) + _pool(CODE_TEMPLATES, POOL_SIZE // 50, rng)
        reasoning = [
            s if s.endswith("\n") else s + rng.choice((" ", " ", " ", " ", "\n\n")) for s in sentences
        ]
        mean_words = sum(len(s.split()) for s in reasoning) / len(reasoning)
        return cls(
            reasoning,
            [s + " " for s in _pool(NON_ASCII_SENTENCES, 500, rng)],
            _pool(ANSWER_TEMPLATES, 2000, rng),
            _pool(PROMPT_TEMPLATES, 2000, rng),
            mean_words,
        )


class TextMaker:
    """Reasoning, answers and prompts from the pools, driven by one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.pools = SentencePools.build(rng)

    def reasoning_words(self) -> int:
        while True:
            words = int(self.rng.lognormvariate(math.log(MEDIAN_WORDS), SIGMA))
            if MIN_WORDS <= words <= MAX_WORDS:
                return words

    def reasoning(self, words: int) -> str:
        rng, pools = self.rng, self.pools
        chosen = rng.choices(pools.reasoning, k=max(1, round(words / pools.mean_words)))
        if rng.random() < NON_ASCII_SHARE:
            for _ in range(rng.randint(1, 3)):
                chosen[rng.randrange(len(chosen))] = rng.choice(pools.non_ascii)
        return "".join(chosen).strip()

    def answer(self) -> str:
        return "\n\n".join(self.rng.choices(self.pools.answers, k=self.rng.randint(1, 6)))

    def prompt(self) -> str:
        return self.rng.choice(self.pools.prompts)

    def signature(self) -> str:
        return base64.b64encode(self.rng.randbytes(self.rng.randint(60, 240))).decode()


def _tokens(text: str) -> int:
    """A plausible token count (~4 characters a token); agreeing with a real tokenizer is not the point."""
    return len(text) // 4 + 1


def openai_record(n: int, text: TextMaker) -> dict[str, Any]:
    rng = text.rng
    reasoning, prompt = text.reasoning(text.reasoning_words()), text.prompt()
    truncated = rng.random() < TRUNCATED_SHARE
    if truncated:
        reasoning = reasoning[: rng.randint(len(reasoning) // 2, len(reasoning))]
    answer = "" if truncated else text.answer()
    reasoning_tokens, answer_tokens, prompt_tokens = _tokens(reasoning), _tokens(answer), _tokens(prompt)
    return {
        "id": f"chatcmpl-{n:010d}{rng.getrandbits(32):08x}",
        "object": "chat.completion",
        "created": CREATED_BASE + n,
        "model": OPENAI_MODELS[n % len(OPENAI_MODELS)],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer, "reasoning_content": reasoning},
                "finish_reason": "length" if truncated else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": reasoning_tokens + answer_tokens,
            "total_tokens": prompt_tokens + reasoning_tokens + answer_tokens,
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        },
    }


def anthropic_record(n: int, text: TextMaker) -> dict[str, Any]:
    rng = text.rng
    thinking, prompt = text.reasoning(text.reasoning_words()), text.prompt()
    truncated = rng.random() < TRUNCATED_SHARE
    content: list[dict[str, str]] = [
        {"type": "thinking", "thinking": thinking, "signature": text.signature()}
    ]
    answer = ""
    if not truncated:
        answer = text.answer()
        content.append({"type": "text", "text": answer})
    return {
        "id": f"msg_{n:010d}{rng.getrandbits(48):012x}",
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_MODELS[n % len(ANTHROPIC_MODELS)],
        "content": content,
        "stop_reason": "max_tokens" if truncated else "end_turn",
        "usage": {"input_tokens": _tokens(prompt), "output_tokens": _tokens(thinking) + _tokens(answer)},
    }


def think_tag_record(n: int, text: TextMaker) -> dict[str, Any]:
    reasoning = text.reasoning(text.reasoning_words())
    return {
        "id": f"tt-{n:010d}",
        "model": THINK_TAG_MODELS[n % len(THINK_TAG_MODELS)],
        "prompt": text.prompt(),
        "response": f"<think>\n{reasoning}\n</think>\n\n{text.answer()}",
    }


MAKERS: dict[str, Callable[[int, TextMaker], dict[str, Any]]] = {
    "openai": openai_record,
    "anthropic": anthropic_record,
    "think-tags": think_tag_record,
}


def records(seed: int) -> Iterator[dict[str, Any]]:
    """An endless deterministic stream of records, the three shapes interleaved."""
    rng = random.Random(seed)
    text = TextMaker(rng)
    n = 0
    while True:
        group = list(SHAPE_CYCLE)
        rng.shuffle(group)
        for shape in group:
            yield MAKERS[shape](n, text)
            n += 1


@dataclass(frozen=True)
class Corpus:
    path: Path
    bytes: int
    records: int
    generated_seconds: float | None  # None: reused from the cache


def corpus_path(workdir: Path, size_mb: float, seed: int) -> Path:
    return workdir / f"corpus-v{GENERATOR_VERSION}-{size_mb:g}mb-seed{seed}.jsonl"


def write_corpus(path: Path, size_mb: float, seed: int) -> int:
    """Write records until the file reaches `size_mb`; returns the record count. Atomic: a temporary file of
    this run's own is renamed into place, so neither an interrupted run nor two runs at once leave a short
    corpus behind."""
    target = int(size_mb * MB)
    written = count = 0
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with open(fd, "wb", buffering=1 << 20) as out:
            for record in records(seed):
                line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
                out.write(line)
                written += len(line)
                count += 1
                if written >= target:
                    break
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return count


def count_lines(path: Path) -> int:
    lines = 0
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            lines += chunk.count(b"\n")
    return lines


def ensure_corpus(workdir: Path, size_mb: float, seed: int) -> Corpus:
    """The cached corpus for (size, seed), generated when missing."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = corpus_path(workdir, size_mb, seed)
    if path.exists():
        return Corpus(path, path.stat().st_size, count_lines(path), None)
    start = time.perf_counter()
    count = write_corpus(path, size_mb, seed)
    return Corpus(path, path.stat().st_size, count, time.perf_counter() - start)


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every benchmark takes: which cached corpus, where, and whether a missed target fails."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=300, help="corpus size in MB (10^6 bytes)")
    parser.add_argument(
        "--workdir", type=Path, default=Path("bench-data"), help="cache of corpora and stores"
    )
    parser.add_argument("--seed", type=int, default=1, help="corpus seed")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    count = write_corpus(args.out, args.size_mb, args.seed)
    seconds = time.perf_counter() - start
    size = args.out.stat().st_size
    print(
        f"{args.out}: {count} records, {size / MB:.1f} MB in {seconds:.2f} s ({size / MB / seconds:.0f} MB/s)"
    )


if __name__ == "__main__":
    main()
