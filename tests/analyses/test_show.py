"""`cotlens show`: a transcript found by id, id prefix or SOURCE:LOCATOR (as the other commands name it), its
highlights where `rates`, `langmix` and `loops` count, and hostile text made inert."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from cotlens.analyses.show import (
    Highlight,
    _one,
    find_transcript,
    loop_highlight,
    record_columns,
    show_transcript,
)
from cotlens.cli import app
from cotlens.errors import CotlensError, UsageError
from cotlens.ingest import IngestOptions, ingest
from cotlens.lexicon import select_lexicons
from cotlens.render.transcript import inert, segments
from cotlens.store import Store
from tests.helpers import chat, write_jsonl

LOOPING = "First I check the sum. " + "Let me check again. " * 5
MIXED = "Wait, this 循环 is pointless. Okay."
HOSTILE = "\x1b[31mred\x1b[0m [bold]x[/bold] \u202eevil\u202c\x00 done"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("show")
    records = [
        chat(1, reasoning=MIXED, model="m"),
        chat(2, reasoning=LOOPING, model="m"),
        chat(3, reasoning=HOSTILE, answer="ok", model="[red]evil[/red]"),
    ]
    store = Store(root / "store")
    ingest([str(write_jsonl(root / "in.jsonl", records))], store, IngestOptions())
    return store


def record_of(store: Store, line: int) -> dict[str, object]:
    return find_transcript(store, f"{store.root.parent / 'in.jsonl'}:line {line}")


def test_a_transcript_is_found_by_id_prefix_and_source(demo: Store) -> None:
    by_source = record_of(demo, 1)
    tid = str(by_source["transcript_id"])
    assert len(tid) == 32
    assert find_transcript(demo, tid)["reasoning"] == MIXED
    assert find_transcript(demo, tid[:8].upper())["transcript_id"] == tid
    assert by_source["reasoning"] == MIXED


def test_unknown_short_or_ambiguous_references_are_errors(demo: Store) -> None:
    with pytest.raises(CotlensError, match="no transcript"):
        find_transcript(demo, "00000000")
    with pytest.raises(UsageError, match="neither a transcript id"):
        find_transcript(demo, "abc")  # too short for a prefix, no ':'
    with pytest.raises(CotlensError, match="no transcript"):
        find_transcript(demo, "nowhere.jsonl:line 1")


def test_a_reference_naming_two_transcripts_lists_them() -> None:
    found = pa.table({"transcript_id": ["ab12cd34" + "0" * 24, "ab12cd34" + "1" * 24], "tags": [[], []]})
    with pytest.raises(UsageError, match=r"names 2 transcripts: ab12cd340+, ab12cd341+; give more"):
        _one(found, "ab12cd34")
    six = pa.table({"transcript_id": [f"ab12cd34{i:024d}" for i in range(6)], "tags": [[]] * 6})
    with pytest.raises(UsageError, match=r"names more than 5 transcripts: .*0004, \.\.\.; give more"):
        _one(six, "ab12cd34")


def test_highlights_are_where_the_analyses_count(demo: Store) -> None:
    shown = show_transcript(demo, str(record_of(demo, 1)["transcript_id"]), select_lexicons([], ["wait"]))
    reasoning = [h for h in shown.highlights if h.field == "reasoning"]
    assert [(MIXED[h.start : h.end], h.kind) for h in reasoning] == [("Wait", "term"), ("循环", "codeswitch")]
    assert reasoning[0].label == "terms: wait"


def test_the_loop_is_highlighted_from_its_first_repeat_to_the_end(demo: Store) -> None:
    shown = show_transcript(demo, str(record_of(demo, 2)["transcript_id"]), select_lexicons([], ["zzz"]))
    (loop,) = [h for h in shown.highlights if h.kind == "loop"]
    assert LOOPING[loop.start : loop.end] == ("Let me check again. " * 5).rstrip()
    assert shown.record["reasoning_loop"] is True


def test_a_loop_unit_matches_across_other_whitespace() -> None:
    text = "Start.\nGo on.\n\nGo on.  Go on.\tGo on."
    (loop,) = loop_highlight("reasoning", text, "Go on.", 3)
    assert text[loop.start : loop.end] == "Go on.  Go on.\tGo on."
    assert loop_highlight("reasoning", text, "Go away.", 3) == []


def test_segments_cut_at_every_edge_of_overlapping_highlights() -> None:
    text = "abcdefgh"
    marks = [Highlight("reasoning", 1, 5, "loop", ""), Highlight("reasoning", 3, 4, "term", "t")]
    assert segments(text, marks) == [
        ("a", frozenset()),
        ("bc", frozenset({"loop"})),
        ("d", frozenset({"loop", "term"})),
        ("e", frozenset({"loop"})),
        ("fgh", frozenset()),
    ]


def test_inert_keeps_line_breaks_and_shows_every_other_control() -> None:
    assert inert("a\x1b[31m\nb\u202ec\x00") == "a␛[31m\nb<U+202E>c␀"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_text_is_inert_and_json_is_the_record(demo: Store) -> None:
    source = f"{demo.root.parent / 'in.jsonl'}:line 3"
    code, out, _ = run("show", source, "--store", str(demo.root))
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out and "\x00" not in out
    assert "[bold]x[/bold]" in out and "[red]evil[/red]" in out  # markup printed as itself
    code, out, _ = run("show", source, "--store", str(demo.root), "--format", "json")
    document = json.loads(out)
    assert code == 0 and document["command"] == "show"
    assert sorted(document) == [
        "command", "cotlens_version", "definitions", "highlights", "schema_version", "store_fingerprint", "transcript"
    ]  # fmt: skip
    assert set(document["transcript"]) == set(record_columns()) - {
        "reasoning_codeswitch_span_offsets",
        "answer_codeswitch_span_offsets",
    }
    assert document["transcript"]["reasoning"] == HOSTILE
    assert document["transcript"]["model"] == "[red]evil[/red]"
    assert len(document["store_fingerprint"]) == 16


def test_cli_plain_and_errors(demo: Store) -> None:
    tid = str(record_of(demo, 2)["transcript_id"])
    code, out, _ = run("show", tid[:10], "--store", str(demo.root), "--plain")
    assert code == 0 and "Let me check again." in out and "\x1b" not in out
    code, _, err = run("show", "deadbeefdeadbeef", "--store", str(demo.root))
    assert code == 1 and err.startswith("cotlens: error: no transcript")
    code, _, err = run("show", "x", "--store", str(demo.root))
    assert code == 2 and "usage error" in err


def test_every_example_id_is_one_show_accepts(demo: Store) -> None:
    """kwic rows and langmix examples name transcripts by id and by source: both find the same one."""
    for args in (["kwic", "wait"], ["langmix", "--examples", "3"]):
        code, out, _ = run(*args, "--store", str(demo.root), "--format", "json")
        assert code == 0
        document = json.loads(out)
        rows = document["rows"] if args[0] == "kwic" else document["sections"][0]["rows"]
        assert rows
        for row in rows:
            assert find_transcript(demo, row["transcript_id"])["transcript_id"] == row["transcript_id"]
            assert find_transcript(demo, row["source"])["transcript_id"] == row["transcript_id"]


def test_the_exclusions_file_names_transcripts_show_finds(demo: Store, tmp_path: Path) -> None:
    out = tmp_path / "kept.jsonl"
    code, _, _ = run("filter", "--store", str(demo.root), "--where", "not loop", "--out", str(out))
    assert code == 0
    (dropped,) = [
        json.loads(line) for line in (tmp_path / "kept.jsonl.exclusions.jsonl").read_text().splitlines()
    ]
    found = find_transcript(demo, f"{dropped['source_path']}:{dropped['source_locator']}")
    assert (
        found["transcript_id"]
        == dropped["transcript_id"]
        == find_transcript(demo, dropped["transcript_id"])["transcript_id"]
    )
