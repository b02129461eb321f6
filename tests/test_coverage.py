"""Interval coverage: a small seeded simulation against a known rate (the large one is bench/coverage.py, run by
`make coverage`), and `cotlens rates` giving exactly the library's interval on a generated store, so the
simulation's figures hold for the command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq
from typer.testing import CliRunner

from bench.coverage import studentized_log_bounds
from cotlens import stats
from cotlens.cli import app
from cotlens.ingest import ingest
from cotlens.store import Store
from tests.helpers import write_jsonl

RATE = 0.002  # occurrences per token
USERS = 0.02  # share of transcripts that use the term at all


def concentrated(
    rng: np.random.Generator, n: int, terms: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Lognormal lengths; each term used by 2% of the transcripts, at RATE / USERS there: the population rate is
    RATE exactly, but a group of 200 holds about 4 users, and a resample often misses the heaviest."""
    tokens = np.ceil(rng.lognormal(math.log(2000), 1.0, size=n))
    users = rng.random((n, terms)) < USERS
    return rng.poisson(users * (RATE / USERS) * tokens[:, np.newaxis]), tokens


def test_a_term_few_transcripts_use_is_covered_on_both_sides() -> None:
    """300 intervals of groups of 200 transcripts. The percentile bootstrap cotlens used before covers 78% here
    (21% of its intervals lie entirely below the truth: a resample without the heaviest users has a low rate and
    a narrow spread), so it fails this test; the studentized intervals miss about 1-2% on each side (their upper
    bound is infinite where 3 users or fewer leave it unbounded). A group without a single user (e^-4 = 1.8% of
    groups) is a miss below whatever the method."""
    rng = np.random.default_rng(18)
    below = above = total = 0
    for g in range(60):
        occ, tok = concentrated(rng, 200, 5)
        iv = stats.rate_intervals(occ, tok, per=1.0, resamples=999, seed=g)
        below += int(np.sum(iv.high < RATE))
        above += int(np.sum(iv.low > RATE))
        total += occ.shape[1]
    assert below / total <= 0.04, f"{below} of {total} intervals below the true rate"
    assert above / total <= 0.04, f"{above} of {total} intervals above the true rate"


def test_a_clustered_term_is_covered_on_both_sides() -> None:
    """The issue's case in small: 300 groups of 200 transcripts, 5 terms each with gamma(0.5) propensities
    (lognormal lengths), 1500 intervals. The studentized bootstrap without the added heavy user (the method
    before) lies entirely below the true rate for 4.1% of them here (4.9% in the 800-group check of the README),
    so it fails the 3% bound below; allowing one more heavy user brings that to 1.8%, with 1.8% above."""
    rng = np.random.default_rng(20)
    below = above = below_before = total = 0
    for g in range(300):
        tokens = np.ceil(rng.lognormal(math.log(2000), 1.0, size=200))
        occ = rng.poisson(rng.gamma(0.5, 2.0, size=(200, 5)) * RATE * tokens[:, np.newaxis])
        moments = stats.resampled_moments(occ, tokens, 999, g)
        iv = stats.rate_intervals(occ, tokens, per=1.0, resamples=999, seed=g, resampled=moments)
        _, high_before = studentized_log_bounds(occ, tokens, moments, 0.95)
        below += int(np.sum(iv.high < RATE))
        above += int(np.sum(iv.low > RATE))
        below_before += int(np.sum(high_before < RATE))
        total += occ.shape[1]
    assert below_before / total > 0.035, f"before: {below_before} of {total} below"
    assert below / total <= 0.03, f"{below} of {total} intervals below the true rate"
    assert above / total <= 0.03, f"{above} of {total} intervals above the true rate"


def test_the_command_gives_the_library_interval(tmp_path: Path) -> None:
    """A generated store of 150 transcripts with known occurrences of "marinade" clustered in a few of them:
    `cotlens rates --format json` reports rate_intervals of those occurrences over the stored o200k tokens."""
    rng = np.random.default_rng(7)
    n = 150
    filler = rng.integers(20, 400, size=n)
    occurrences = rng.poisson(rng.gamma(0.5, 2.0, size=n) * filler / 50)
    records = [
        {
            "id": f"t{i}",
            "model": "sim",
            "prompt": "p",
            "response": "<think>"
            + " ".join(["so the plan holds"] * int(filler[i]) + ["marinade"] * int(occurrences[i]))
            + "</think>ok",
        }
        for i in range(n)
    ]
    store = Store(tmp_path / "store")
    ingest([str(write_jsonl(tmp_path / "sim.jsonl", records))], store)
    tables = [pq.read_table(p, columns=["source_id", "reasoning_tokens_o200k"]) for p in store.part_files()]
    ids = [s for t in tables for s in t["source_id"].to_pylist()]
    tokens = np.array([x for t in tables for x in t["reasoning_tokens_o200k"].to_pylist()], dtype=np.float64)
    occ = occurrences[[int(s[1:]) for s in ids]]

    result = CliRunner().invoke(
        app,
        ["rates", "--store", str(store.root), "--term", "marinade", "--format", "json"],
        env={"NO_COLOR": "1"},
    )
    assert result.exit_code == 0, result.output
    [row] = [r for r in json.loads(result.stdout)["rows"] if r["term"] == "marinade"]
    expected = stats.rate_intervals(occ, tokens)
    assert row["occurrences"] == int(occurrences.sum())
    assert row["interval_method"] == stats.STUDENTIZED
    assert row["rate_per_1k"] == expected.estimate[0]
    assert (row["rate_per_1k_low"], row["rate_per_1k_high"]) == (expected.low[0], expected.high[0])
