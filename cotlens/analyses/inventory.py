"""What a store holds, per model."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow.compute as pc

from cotlens.record import REASONING_KINDS
from cotlens.result import Column, Result
from cotlens.store import Store


def summarize_models(store: Store) -> Result:
    """Per model: transcripts, reasoning kinds, truncated, reported token totals, datasets."""
    table = store.read(
        columns=[
            "model",
            "reasoning_kind",
            "dataset",
            "truncated",
            "reasoning_tokens_reported",
            "output_tokens_reported",
            "reasoning_chars",
        ]
    )
    by_kind = table.group_by(["model", "reasoning_kind"]).aggregate([([], "count_all")])
    totals = table.group_by("model").aggregate(
        [
            ([], "count_all"),
            ("truncated", "sum"),
            ("reasoning_tokens_reported", "sum"),
            ("reasoning_tokens_reported", "count"),
            ("output_tokens_reported", "sum"),
            ("reasoning_chars", "sum"),
        ]
    )
    datasets = (
        table.filter(pc.is_valid(table["dataset"])).group_by("model").aggregate([("dataset", "distinct")])
    )
    kinds: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(REASONING_KINDS, 0))
    for row in by_kind.to_pylist():
        kinds[row["model"]][row["reasoning_kind"]] = row["count_all"]
    dataset_lists = {r["model"]: sorted(r["dataset_distinct"]) for r in datasets.to_pylist()}
    rows: list[dict[str, Any]] = []
    for row in sorted(totals.to_pylist(), key=lambda r: r["model"]):
        model = row["model"]
        rows.append(
            {
                "model": model,
                "transcripts": row["count_all"],
                **{f"kind_{k}": v for k, v in kinds[model].items()},
                "truncated": row["truncated_sum"] or 0,
                "reasoning_chars": row["reasoning_chars_sum"] or 0,
                "reasoning_tokens_reported": row["reasoning_tokens_reported_sum"],
                "with_reported_tokens": row["reasoning_tokens_reported_count"],
                "output_tokens_reported": row["output_tokens_reported_sum"],
                "datasets": dataset_lists.get(model, []),
            }
        )
    columns = [
        Column("model", "model"),
        Column("transcripts", "transcripts", "int"),
        *(Column(f"kind_{k}", k, "int") for k in REASONING_KINDS),
        Column("truncated", "truncated", "int"),
        Column("reasoning_chars", "reasoning chars", "int"),
        Column("reasoning_tokens_reported", "reported reasoning tokens", "int"),
        Column("output_tokens_reported", "reported output tokens", "int"),
        Column("datasets", "datasets", "list"),
    ]
    definitions = {
        "reasoning_kinds": list(REASONING_KINDS),
        "reported_tokens": "sum of the provider's figures over transcripts that report one (null when none do)",
    }
    return Result("models", f"Models in {store.where}", columns, rows, definitions)


def measure_summary(done: dict[str, int]) -> Result:
    """What `cotlens measure` did, in one row: the store's part files, how many it measured, and how many
    transcripts they hold."""
    columns = [
        Column("parts", "part files", "int"),
        Column("parts_measured", "part files measured", "int"),
        Column("rows_measured", "transcripts measured", "int"),
    ]
    definitions = {"measured": "intrinsic measurements added to part files stored without them"}
    return Result("measure", "Measure", columns, [done], definitions)
