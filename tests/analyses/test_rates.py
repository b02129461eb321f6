"""rates: the library's numbers on small literal stores, and the command's contract."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cotlens.analyses.rates import RateOptions, compute_rates
from cotlens.cli import app
from cotlens.errors import CotlensError
from cotlens.ingest import IngestOptions, ingest
from cotlens.intrinsic import UnmeasuredError, measure_store, run_measured, unmeasured_parts
from cotlens.lexicon import parse_lexicon, select_lexicons
from cotlens.measure.tokens import count_tokens
from cotlens.record import intrinsic_fields
from cotlens.scan import Selection
from cotlens.store import Store
from tests.conftest import DEMO
from tests.helpers import write_jsonl

runner = CliRunner()


def flat(i: int, model: str, response: str, **extra: object) -> dict[str, object]:
    return {"id": f"r{i}", "model": model, "prompt": "p", "response": response, **extra}


@pytest.fixture
def small(tmp_path: Path, store: Store) -> Store:
    records = [
        flat(1, "a", "<think>Wait, wait. Hmm.</think>Done."),
        flat(2, "a", "<think>All good here.</think>Wait!"),
        flat(3, "b", "<think>Hmm hmm hmm</think>ok"),
        flat(4, "b", "no reasoning at all"),  # kind none: never in a reasoning denominator
        {
            "id": "h",
            "model": "b",
            "object": "chat.completion",  # hidden: tokens reported, no text
            "choices": [{"message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}],
            "usage": {"completion_tokens": 500, "completion_tokens_details": {"reasoning_tokens": 400}},
        },
    ]
    ingest([str(write_jsonl(tmp_path / "a.jsonl", records))], store)
    return store


LEX = parse_lexicon("t", "wait\nhmm", "test")


def rows_by(result, **key):  # type: ignore[no-untyped-def]
    return [r for r in result.rows if all(r[k] == v for k, v in key.items())]


def test_literal_rates(small: Store) -> None:
    result = compute_rates(small, [LEX], Selection(), RateOptions())
    [a_wait] = rows_by(result, group="a", term="wait")
    tokens_a = sum(count_tokens(["Wait, wait. Hmm.", "All good here."]))  # type: ignore[arg-type]
    assert (a_wait["transcripts"], a_wait["occurrences"], a_wait["tokens"]) == (2, 2, tokens_a)
    assert a_wait["rate_per_1k"] == pytest.approx(1000 * 2 / tokens_a)
    assert a_wait["prevalence"] == 0.5
    [b_hmm] = rows_by(result, group="b", term="hmm")
    assert (b_hmm["transcripts"], b_hmm["occurrences"]) == (1, 3)  # the hidden and the untagged: no text
    [a_total] = rows_by(result, group="a", term="(total)")
    assert a_total["occurrences"] == 3 and a_total["prevalence"] == 0.5
    assert all(r["few_transcripts"] for r in result.rows)
    for r in result.rows:  # rate × tokens / 1000 = count
        assert r["rate_per_1k"] * r["tokens"] / 1000 == pytest.approx(r["occurrences"])
        assert r["rate_per_1k_low"] <= r["rate_per_1k"] <= r["rate_per_1k_high"]


def test_answer_field_and_words_unit(small: Store) -> None:
    result = compute_rates(small, [LEX], Selection(), RateOptions(field="answer", unit="words"))
    [a_wait] = rows_by(result, group="a", term="wait")
    assert (a_wait["transcripts"], a_wait["occurrences"], a_wait["tokens"]) == (2, 1, 2)  # "Done." "Wait!"


def test_reported_unit_uses_only_transcripts_that_report(small: Store) -> None:
    with pytest.raises(CotlensError, match="no transcripts with reasoning text"):
        compute_rates(small, [LEX], Selection(), RateOptions(unit="reported"))


def test_hidden_kind_has_no_text_to_count(small: Store) -> None:
    with pytest.raises(CotlensError, match="no transcripts with reasoning text"):
        compute_rates(small, [LEX], Selection(kinds=("hidden",)), RateOptions())


def test_unknown_model_names_what_exists(small: Store) -> None:
    with pytest.raises(CotlensError, match=r"no model 'zzz' in the store; it has: a, b"):
        compute_rates(small, [LEX], Selection(models=("zzz",)), RateOptions())


def test_by_tag_and_kinds_apart(tmp_path: Path, store: Store) -> None:
    records = [
        {
            "id": "s",
            "object": "response",
            "model": "o",
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Wait, planning."}]},
                {"type": "message", "content": [{"type": "output_text", "text": "A"}]},
            ],
        },
        {
            "id": "r",
            "object": "response",
            "model": "o",
            "output": [{"type": "reasoning", "content": [{"type": "reasoning_text", "text": "wait wait"}]}],
        },
    ]
    ingest([str(write_jsonl(tmp_path / "a.jsonl", records))], store, IngestOptions(tags={"run": "1"}))
    result = compute_rates(store, [LEX], Selection(), RateOptions(by="tag:run"))
    waits = {(r["group"], r["reasoning_kind"]): r["occurrences"] for r in rows_by(result, term="wait")}
    assert waits == {("1", "raw"): 2, ("1", "summary"): 1}


def test_demo_dialect_model_stands_out(store: Store) -> None:
    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    result = compute_rates(store, select_lexicons(["o3-dialect"], []), Selection(), RateOptions())
    totals = {r["group"]: r for r in rows_by(result, term="(total)")}
    orion = totals.pop("orion-3")
    assert orion["rate_per_1k"] > 5
    for other in totals.values():
        assert other["rate_per_1k_high"] < orion["rate_per_1k_low"]
    assert orion["interval_method"] == "studentized-log+1"


def test_old_parts_are_measured_on_first_use(tmp_path: Path, small: Store) -> None:
    expected = compute_rates(small, [LEX], Selection(), RateOptions())
    [part] = small.part_files()
    table = pq.read_table(part)
    intrinsic = [f.name for f in intrinsic_fields()]
    pq.write_table(table.drop_columns(intrinsic), part)  # as an older cotlens wrote it
    assert unmeasured_parts(small) == [str(part)]
    old = part.read_bytes()
    with pytest.raises(UnmeasuredError, match="1 part file"):  # reading never rewrites
        compute_rates(small, [LEX], Selection(), RateOptions())
    assert part.read_bytes() == old
    told: list[int] = []
    rates = run_measured(small, lambda: compute_rates(small, [LEX], Selection(), RateOptions()), told.append)
    assert rates.rows == expected.rows
    assert told == [1] and unmeasured_parts(small) == []
    assert pq.read_table(part).select(intrinsic).equals(table.select(intrinsic))


def test_measure_fills_deferred_measurements_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "deferred")
    ingest([str(DEMO / "lumen-mix.jsonl")], store, IngestOptions(measure=False))
    assert pq.read_table(store.part_files()[0])["reasoning_letters"].null_count == 80
    assert measure_store(store) == {"parts": 1, "parts_measured": 1, "rows_measured": 80}
    assert measure_store(store)["rows_measured"] == 0
    assert pq.read_table(store.part_files()[0])["reasoning_letters"].null_count == 0


def test_an_analysis_of_a_deferred_store_measures_it_first_and_says_so(tmp_path: Path) -> None:
    measured, deferred = Store(tmp_path / "measured"), Store(tmp_path / "deferred")
    ingest([str(DEMO / "lumen-mix.jsonl")], measured, IngestOptions())
    ingest([str(DEMO / "lumen-mix.jsonl")], deferred, IngestOptions(measure=False))
    [part] = deferred.part_files()
    old = part.read_bytes()
    typo = run("rates", "lumen-mixx", "--store", str(deferred.root), "--format", "json")
    assert typo.exit_code == 1 and "did you mean 'lumen-mix'" in typo.stderr
    assert "measuring" not in typo.stderr and part.read_bytes() == old  # the selection is checked first
    result = run("rates", "--store", str(deferred.root), "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "cotlens: measuring 1 part file(s) stored without intrinsic measurements (once, as `cotlens measure`)"
    ]
    expected = run("rates", "--store", str(measured.root), "--format", "json")
    assert orjson.loads(result.stdout)["rows"] == orjson.loads(expected.stdout)["rows"]
    again = run("rates", "--store", str(deferred.root), "--format", "json")
    assert again.stderr == "" and again.stdout == result.stdout


# The frozen row of `rates --format json` (README, "JSON output").
ROW_KEYS = (
    "group",
    "reasoning_kind",
    "lexicon",
    "term",
    "transcripts",
    "occurrences",
    "tokens",
    "rate_per_1k",
    "rate_per_1k_low",
    "rate_per_1k_high",
    "prevalence",
    "prevalence_low",
    "prevalence_high",
    "interval_method",
    "few_transcripts",
    "note",
)


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


def test_cli_json_document(small: Store) -> None:
    result = run("rates", "a", "--store", str(small.root), "--term", "wait", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 2 and doc["command"] == "rates"
    assert set(doc["definitions"]) >= {"unit", "tokenizer", "interval", "matching", "field", "rate"}
    assert doc["definitions"]["interval"]["resamples"] == 1999
    assert {r["group"] for r in doc["rows"]} == {"a"}
    assert sorted(doc["rows"][0]) == sorted(ROW_KEYS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--field", "prompt"], "--field 'prompt'"),
        (["--tokens", "bytes"], "--tokens 'bytes'"),
        (["--lexicon", "nope"], "no built-in lexicon or file 'nope'"),
        (["--term", "re:(?<=a)b"], "linear-time engine"),
    ],
)
def test_cli_usage_errors(small: Store, args: list[str], message: str) -> None:
    result = run("rates", "--store", str(small.root), *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_cli_unknown_model_exits_1(small: Store) -> None:
    result = run("rates", "zzz", "--store", str(small.root))
    assert result.exit_code == 1
    assert "no model 'zzz' in the store" in result.stderr


def test_cli_csv_has_interval_columns(small: Store) -> None:
    out = run("rates", "--store", str(small.root), "--term", "wait", "--format", "csv").stdout.splitlines()
    header = out[0].split(",")
    # Displayed columns first (kind only with several kinds; note because these groups are few), then the rest.
    hidden = ["reasoning_kind", "interval_method", "few_transcripts"]
    assert header == [k for k in ROW_KEYS if k not in hidden] + hidden


def test_stored_lexicon_counts_equal_counts_from_the_text(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cotlens.analyses.rates

    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    for field in ("reasoning", "answer"):
        options = RateOptions(field=field)  # type: ignore[arg-type]
        stored = compute_rates(store, select_lexicons([], []), Selection(), options)
        with monkeypatch.context() as m:
            m.setattr(cotlens.analyses.rates, "stored_positions", lambda lexicons: None)
            from_text = compute_rates(store, select_lexicons([], []), Selection(), options)
        assert stored.rows == from_text.rows
        assert sum(r["occurrences"] for r in stored.rows) > 40  # the same, and not for want of occurrences


def test_counts_made_with_other_lexicons_are_measured_again(small: Store) -> None:
    [part] = small.part_files()
    table = pq.read_table(part)
    expected = table.column("reasoning_lexicon_counts")
    stale = table.replace_schema_metadata({"cotlens.lexicons": "an older lexicon set"})
    pq.write_table(
        stale.set_column(
            stale.schema.get_field_index("reasoning_lexicon_counts"),
            "reasoning_lexicon_counts",
            pa.nulls(len(table), expected.type),
        ),
        part,
    )
    assert unmeasured_parts(small) == [str(part)]
    run_measured(
        small, lambda: compute_rates(small, select_lexicons(["epistemic"], []), Selection(), RateOptions())
    )
    assert unmeasured_parts(small) == []
    assert pq.read_table(part).column("reasoning_lexicon_counts").equals(expected)


def test_the_last_row_group_shared_between_workers_gives_the_same_rates(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers and three row groups: the third is cut in two (scan.split_tail), and the rates, intervals
    included, are those of one process reading each row group whole."""
    from concurrent.futures import ThreadPoolExecutor

    from cotlens import scan

    monkeypatch.setattr("cotlens.store.ROW_GROUP_ROWS", 4)
    reasoning = ["Wait, wait. Hmm.", "All good.", "hmm? WAIT", "Ｗａｉｔ — let me see", "nothing", "wait"]
    records = [flat(i, "ab"[i % 2], f"<think>{reasoning[i % 6]}</think>ok") for i in range(11)]
    ingest([str(write_jsonl(tmp_path / "a.jsonl", records))], store)
    [part] = store.part_files()
    assert pq.ParquetFile(part).metadata.num_row_groups == 3
    lexicons = select_lexicons([], ["wait", "hmm", "let me"])
    alone = compute_rates(store, lexicons, Selection(), RateOptions())

    cut: list[tuple[str, int, int, int]] = []
    split_tail = scan.split_tail
    monkeypatch.setattr(scan, "split_tail", lambda groups, jobs: cut.extend(split_tail(groups, jobs)) or cut)
    monkeypatch.setattr(scan, "pool_jobs", lambda repays: 2)
    with ThreadPoolExecutor(2) as pool:
        monkeypatch.setattr(scan, "worker_pool", lambda jobs: _yielding(pool))
        shared = compute_rates(store, lexicons, Selection(), RateOptions())
    assert [task[1:] for task in cut] == [(0, 0, 1), (1, 0, 1), (2, 0, 2), (2, 1, 2)]
    assert shared.rows == alone.rows


def _yielding(value: object):  # type: ignore[no-untyped-def]
    from contextlib import contextmanager

    @contextmanager
    def pool():  # type: ignore[no-untyped-def]
        yield value

    return pool()


@pytest.mark.parametrize(
    ("groups", "jobs", "want"),
    [
        (5, 2, [(0, 0, 1), (1, 0, 1), (2, 0, 1), (3, 0, 1), (4, 0, 2), (4, 1, 2)]),
        (4, 2, [(0, 0, 1), (1, 0, 1), (2, 0, 1), (3, 0, 1)]),
        (5, 1, [(0, 0, 1), (1, 0, 1), (2, 0, 1), (3, 0, 1), (4, 0, 1)]),
        (3, 4, [(0, 0, 1), (1, 0, 1), (2, 0, 2), (2, 1, 2)]),
        (1, 3, [(0, 0, 3), (0, 1, 3), (0, 2, 3)]),
        (0, 2, []),
    ],
)
def test_only_the_last_row_group_is_cut_to_fill_the_workers(
    groups: int, jobs: int, want: list[tuple[int, int, int]]
) -> None:
    from cotlens.scan import split_tail

    tasks = split_tail([("p.parquet", g) for g in range(groups)], jobs)
    assert [task[1:] for task in tasks] == want
    assert all(task[0] == "p.parquet" for task in tasks)
