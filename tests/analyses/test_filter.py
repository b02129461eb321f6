"""`cotlens filter`: the demo recipe drops exactly what the fixtures were built to fail, outputs are atomic,
conditions parse or say what is valid."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import cotlens.analyses.filter
from cotlens.analyses.filter import FilterOptions, run_filter
from cotlens.cli import app
from cotlens.conditions import parse_condition
from cotlens.errors import UsageError
from cotlens.ingest import ingest
from cotlens.render.exports import Exports
from cotlens.scan import Selection
from cotlens.store import Store
from tests.conftest import DEMO

runner = CliRunner()
MANIFEST = json.loads((DEMO / "manifest.json").read_text(encoding="utf-8"))
# The README's recipe.
RECIPE = [
    "--ignore-script",
    "Greek",
    "--where",
    "not truncated",
    "--where",
    "not loop",
    "--where",
    "codeswitch_spans == 0",
    "--where",
    "dominant_script == Latin",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("demo") / "store")
    ingest(sorted(str(p) for p in DEMO.glob("*.jsonl")), store)
    return store


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_the_recipe_drops_exactly_the_transcripts_built_to_fail(demo: Store, tmp_path: Path) -> None:
    out = tmp_path / "clean.jsonl"
    result = runner.invoke(app, ["filter", "--store", str(demo.root), "--out", str(out), *RECIPE])
    assert result.exit_code == 0, result.output
    kept = {r["source_id"] for r in lines(out)}
    dropped = {r["source_id"]: r["failed"] for r in lines(tmp_path / "clean.jsonl.exclusions.jsonl")}
    assert set(dropped) == set(MANIFEST["cleanliness"]["any"])
    assert len(kept) == MANIFEST["cleanliness"]["clean_count"] == 199
    assert set(MANIFEST["cleanliness"]["must_keep_greek"]) <= kept
    assert {dropped[i] for i in MANIFEST["cleanliness"]["truncated"]} == {"not truncated"}
    assert {dropped[i] for i in MANIFEST["cleanliness"]["loop"]} == {"not loop"}
    assert {dropped[i] for i in MANIFEST["cleanliness"]["non_latin_dominant"]} == {"dominant_script == Latin"}


def test_greek_math_is_dropped_when_greek_counts(demo: Store) -> None:
    result = runner.invoke(
        app, ["filter", "--store", str(demo.root), "--dry-run", "--json", "--where", "codeswitch_spans == 0"]
    )
    rows = {r["model"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["plain-7b"]["dropped"] == len(MANIFEST["cleanliness"]["must_keep_greek"])


def test_parquet_output_keeps_every_stored_column(demo: Store, tmp_path: Path) -> None:
    out = tmp_path / "clean.parquet"
    result = runner.invoke(
        app, ["filter", "orion-3", "--store", str(demo.root), "--out", str(out), "--where", "not truncated"]
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == 77 and "reasoning_lexicon_counts" in table.column_names
    assert set(table["model"].to_pylist()) == {"orion-3"}


def test_rates_from_stored_counts_and_from_the_text_agree(demo: Store) -> None:
    def dropped(*args: str) -> dict[str, int]:
        result = runner.invoke(app, ["filter", "--store", str(demo.root), "--dry-run", "--json", *args])
        assert result.exit_code == 0, result.output
        return {r["model"]: r["dropped"] for r in json.loads(result.stdout)["rows"]}

    stored = dropped("--where", "rate(o3-dialect:marinade) < 1")
    from_text = dropped("--term", "marinade", "--where", "rate(terms:marinade) < 1")
    assert stored == from_text and stored["orion-3"] > 0 and stored["plain-7b"] == 0


def test_stdout_and_existing_outputs(demo: Store, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["filter", "plain-7b", "--store", str(demo.root), "--out", "-", "--where", "not loop"]
    )
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 80
    out = tmp_path / "x.jsonl"
    out.write_text("keep me")
    refused = runner.invoke(
        app, ["filter", "--store", str(demo.root), "--out", str(out), "--where", "not loop"]
    )
    assert refused.exit_code == 2 and "exists: give --force" in refused.stderr
    assert out.read_text() == "keep me"
    forced = runner.invoke(
        app, ["filter", "--store", str(demo.root), "--out", str(out), "--force", "--where", "not loop"]
    )
    assert forced.exit_code == 0 and len(out.read_text().splitlines()) == 228


def test_an_interrupted_run_leaves_no_file(
    demo: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cotlens.analyses.filter, "_tally", interrupted)
    result = runner.invoke(
        app, ["filter", "--store", str(demo.root), "--out", str(tmp_path / "o.jsonl"), "--where", "not loop"]
    )
    assert result.exit_code == 130
    assert list(tmp_path.iterdir()) == []


def test_conditions_parse_or_say_what_is_valid() -> None:
    assert parse_condition("not loop", []).negate
    number = parse_condition("nonlatin_token_share <= 0.01", [])
    assert (number.name, number.operator, number.value) == ("nonlatin_token_share", "<=", 0.01)
    assert parse_condition("rate(epistemic) < 20", ["epistemic"]).rate
    assert parse_condition("kind == raw", []).value == "raw"
    for bad, message in [
        ("rate(nope) < 1", "unknown metric 'nope'"),
        ("loop > 1", "unknown metric 'loop'"),
        ("nonlatin_token_share", "not a condition"),
        ("truncated == yes", "'truncated' is not compared as text"),
    ]:
        with pytest.raises(UsageError, match=message):
            parse_condition(bad, ["epistemic"])


def test_usage_errors(demo: Store) -> None:
    base = ["filter", "--store", str(demo.root)]
    assert runner.invoke(app, [*base, "--where", "not loop"]).exit_code == 2  # neither --out nor --dry-run
    malformed = runner.invoke(app, [*base, "--dry-run", "--where", "loops == 0"])
    assert malformed.exit_code == 2 and "unknown metric 'loops'" in malformed.stderr
    assert runner.invoke(app, [*base, "--out", "-", "--json", "--where", "not loop"]).exit_code == 2


def test_a_rate_condition_names_a_term_or_a_lexicon_total(demo: Store, tmp_path: Path) -> None:
    lexicon = tmp_path / "mine.txt"
    lexicon.write_text("let me\nwait\n")
    base = ["filter", "--store", str(demo.root), "--dry-run", "--lexicon", str(lexicon), "--term", "hmm"]
    assert runner.invoke(app, [*base, "--where", "rate(mine:wait) < 100"]).exit_code == 0
    assert runner.invoke(app, [*base, "--where", "rate(terms) < 100"]).exit_code == 0
    unknown = runner.invoke(app, [*base, "--where", "rate(zzzzzz) < 1"])
    assert unknown.exit_code == 2
    # Every term by its lexicon, then each lexicon's total, in the order given.
    assert "(mine:let me, mine:wait, terms:hmm, mine, terms)" in " ".join(unknown.stderr.split())


def test_original_records_are_written_as_read(demo: Store, tmp_path: Path) -> None:
    out = tmp_path / "original.jsonl"
    result = runner.invoke(
        app, ["filter", "--store", str(demo.root), "--out", str(out), "--original", *RECIPE]
    )
    assert result.exit_code == 0, result.output
    written = out.read_bytes().splitlines()
    inputs = {line for p in DEMO.glob("*.jsonl") for line in p.read_bytes().splitlines()}
    assert len(written) == 199 and set(written) <= inputs  # byte for byte, each kept record once
    ids = {orjson.loads(line).get("id") for line in written}
    assert not ids & set(MANIFEST["cleanliness"]["any"])


def test_original_needs_json_lines(tmp_path: Path, store: Store) -> None:
    document = tmp_path / "dump.json"
    document.write_text(
        json.dumps(
            [
                {
                    "id": "x1",
                    "model": "m",
                    "messages": [
                        {"role": "user", "content": "Hi"},
                        {"role": "assistant", "content": "<think>Let me see.</think>Hello"},
                    ],
                }
            ]
        )
    )
    ingest([str(document)], store)
    result = runner.invoke(
        app,
        [
            "filter",
            "--store",
            str(store.root),
            "--out",
            str(tmp_path / "o.jsonl"),
            "--original",
            "--where",
            "not loop",
        ],
    )
    assert result.exit_code == 2 and "from JSON Lines files only" in result.stderr
    assert not (tmp_path / "o.jsonl").exists()
    parquet = runner.invoke(
        app,
        [
            "filter",
            "--store",
            str(store.root),
            "--out",
            str(tmp_path / "o.parquet"),
            "--original",
            "--where",
            "not loop",
        ],
    )
    assert parquet.exit_code == 2


def test_a_dry_run_reads_text_only_to_measure_it_again(demo: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[set[str] | None] = []
    batches = cotlens.analyses.filter._batches

    def recording(store: Store, selection: object, columns: list[str] | None):  # type: ignore[no-untyped-def]
        read.append(None if columns is None else set(columns))
        return batches(store, selection, columns)  # type: ignore[arg-type]

    monkeypatch.setattr(cotlens.analyses.filter, "_batches", recording)
    for args in (
        ["--where", "not loop"],
        ["--where", "rate(o3-dialect) < 1"],
        ["--term", "wait", "--where", "rate(terms:wait) < 5"],
        ["--ignore-script", "Greek", "--where", "codeswitch_spans == 0"],
    ):
        result = runner.invoke(app, ["filter", "--store", str(demo.root), "--dry-run", "--json", *args])
        assert result.exit_code == 0, result.output
    stored_only, stored_rate, from_text, left_out = read
    assert stored_only is not None and stored_rate is not None
    assert not {"prompt", "reasoning", "answer"} & (stored_only | stored_rate)
    assert from_text is None and left_out is None


def test_a_directory_output_reads_back_as_the_one_file_output(
    demo: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 64 rows: the 240 transcripts' 199 kept ones come in 4 files, written by 3 threads.
    monkeypatch.setattr(cotlens.analyses.filter, "READ_ROWS", 64)
    conditions = [parse_condition(w, []) for w in RECIPE[3::2]]
    outputs = {}
    for out, jobs in ((f"{tmp_path}/one.parquet", 1), (f"{tmp_path}/parts/", 3)):
        options = FilterOptions(ignore=frozenset({"Greek"}), out=out)
        run_filter(demo, Selection(), conditions, [], options, sink=Exports(options, jobs=jobs))
        outputs[out] = ds.dataset(out, format="parquet").to_table()
    one, parts = outputs.values()
    files = sorted(p.name for p in (tmp_path / "parts").iterdir())
    assert files == [f"part-{i:06d}.parquet" for i in range(4)]
    assert one.num_rows == 199 and parts.equals(one)
    assert (tmp_path / "one.parquet.exclusions.jsonl").read_bytes() == (
        tmp_path / "parts.exclusions.jsonl"
    ).read_bytes()


def test_a_directory_output_with_nothing_kept_holds_the_schema(demo: Store, tmp_path: Path) -> None:
    out = tmp_path / "none"
    result = runner.invoke(
        app, ["filter", "--store", str(demo.root), "--out", f"{out}/", "--where", "tokens < 0"]
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["part-000000.parquet"]
    table = ds.dataset(out, format="parquet").to_table()
    assert table.num_rows == 0 and "reasoning_lexicon_counts" in table.column_names
    assert len((tmp_path / "none.exclusions.jsonl").read_bytes().splitlines()) == 240


def test_a_batch_kept_whole_is_written_as_stored(demo: Store, tmp_path: Path) -> None:
    out = tmp_path / "all.parquet"
    result = runner.invoke(
        app, ["filter", "--store", str(demo.root), "--out", str(out), "--where", "chars >= 0"]
    )
    assert result.exit_code == 0, result.output
    stored = demo.dataset().to_table(filter=Selection().expression())
    assert stored.num_rows == 240 and pq.read_table(out).equals(stored.select(pq.read_schema(out).names))
