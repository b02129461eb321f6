"""The measurement registry (cotlens/measure/__init__.py): kernels declare their columns and metrics, and the
store's schema, `filter --where` and `compare` take them from there. A kernel registered here, in the test, is
seen everywhere without an edit elsewhere."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

import pyarrow as pa
import pytest

from cotlens.analyses.compare import metric_keys, token_metrics, transcript_metrics
from cotlens.conditions import evaluate, parse_condition
from cotlens.errors import UsageError
from cotlens.intrinsic import measure
from cotlens.measure import Column, Kernel, Metric, kernel_registry, registered_kernels
from cotlens.record import RECORD_FIELDS, intrinsic_fields, part_schema, schema


def _exclamations(texts: Sequence[str | None]) -> dict[str, list[int | None] | list[bool | None]]:
    return {
        "exclamations": [None if t is None else t.count("!") for t in texts],
        "shouting": [None if t is None else t.isupper() for t in texts],
    }


TOY = Kernel(
    "toy",
    order=99,
    columns=(
        Column("exclamations", pa.int64(), "exclamation marks"),
        Column("shouting", pa.bool_(), "every cased character upper case", flag="shouting"),
    ),
    measure=_exclamations,
    metrics=(
        Metric("exclamations", "exclamations"),
        Metric("bangs_per_1k", "exclamations", "tokens_o200k", scale=1000.0, label="! per 1k", kind="rate"),
        Metric("shouting_share", "shouting", operand=False, label="shouting", kind="share"),
    ),
)


def test_the_kernels_and_the_order_of_their_columns() -> None:
    assert [k.name for k in registered_kernels()] == ["tokens", "scripts", "repetition", "lexicon_counts"]
    names = schema().names
    assert names[: len(RECORD_FIELDS)] == [f.name for f in RECORD_FIELDS]
    assert names[len(RECORD_FIELDS) : len(RECORD_FIELDS) + 3] == [
        "reasoning_tokens_o200k",
        "reasoning_letters",
        "reasoning_nonlatin_letters",
    ]
    assert names[-3:] == ["answer_loop_repeats", "answer_lexicon_counts", "measured_by"]
    assert list(part_schema().metadata) == [b"cotlens.lexicons", b"cotlens.lexicon_terms"]
    assert [m.key for m in token_metrics()] == ["nonlatin_token_share", "spans_per_1k"]
    assert [m.key for m in transcript_metrics()] == ["tokens_mean", "loop_share", "gopher_share"]


def test_a_kernel_registered_in_a_test_is_a_column_an_operand_and_a_compare_metric() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(kernel_registry(), "toy", TOY)
        names = schema().names
        assert names[-5:] == [
            "answer_loop_repeats",
            "answer_lexicon_counts",
            "answer_exclamations",
            "answer_shouting",
            "measured_by",
        ]
        assert "reasoning_exclamations" in names and schema().field("answer_shouting").type == pa.bool_()
        assert "reasoning_exclamations" in {f.name for f in intrinsic_fields()}

        table = measure(
            pa.table({"reasoning": ["Wait!! No!", "calm", None], "answer": ["STOP!", None, "ok"]})
        )
        assert table.schema == schema()
        assert table["reasoning_exclamations"].to_pylist() == [3, 0, None]
        assert table["answer_shouting"].to_pylist() == [True, None, False]

        rows = [
            evaluate(parse_condition(where, []), table, field, {}).tolist()
            for where, field in [
                ("exclamations >= 3", "reasoning"),
                ("not shouting", "answer"),
                ("bangs_per_1k > 0", "answer"),
            ]
        ]
        assert rows == [[True, False, False], [False, True, True], [True, False, False]]
        with pytest.raises(UsageError, match="shouting_share"):  # compare's alone: no operand
            parse_condition("shouting_share > 0", [])

        keys = metric_keys([])
        assert keys[keys.index("spans_per_1k") + 1] == "bangs_per_1k"
        assert keys[-1] == "shouting_share"
    assert "reasoning_exclamations" not in schema().names
    assert "bangs_per_1k" not in metric_keys([])
    with pytest.raises(UsageError, match="unknown metric 'exclamations'"):
        parse_condition("exclamations >= 3", [])


def test_compare_takes_metrics_per_token_or_per_transcript_only() -> None:
    with pytest.raises(ValueError, match="per tokens_o200k or per transcript"):
        Metric("bangs_per_letter", "exclamations", "letters", label="! per letter", kind="share")
    assert Metric("bangs_per_letter", "exclamations", "letters").operand  # a --where metric may


def test_the_store_knows_no_kernel() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, cotlens.store; print(*sorted(m for m in sys.modules if m.startswith('cotlens.measure')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.split() == ["cotlens.measure"]
