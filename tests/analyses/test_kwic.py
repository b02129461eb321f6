"""`cotlens kwic`: occurrences located in the original text exactly as `rates` counts them, lines of context,
first lines and seeded samples, hostile text made inert by the renderers."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from cotlens.analyses.kwic import KwicOptions, _KwicKernel, compute_kwic
from cotlens.errors import CotlensError, UsageError
from cotlens.escape import printable
from cotlens.ingest import ingest
from cotlens.measure.fold import fold
from cotlens.measure.positions import folded_with_clusters
from cotlens.measure.terms import count_terms, find_occurrences, parse_term
from cotlens.render import OutputFormat, render
from cotlens.result import Result
from cotlens.scan import Selection, read_row_group
from cotlens.store import Store
from tests.helpers import chat, write_jsonl

# (term, text, the occurrences as found in the original text)
CASES = [
    ("循环", "先检查，循环，然后结束", ["循环"]),  # a Han term bounded by Chinese punctuation
    ("循环", "This循环 seems pointless", ["循环"]),
    ("循环", "这个循环很慢", ["循环"]),  # Han has no word boundary
    ("wait", "wait这个", ["wait"]),
    ("double-check", "double-checking", []),
    ("double-check", "Double-check, then double-checking", ["Double-check"]),
    ("check", "double-check", ["check"]),
    ("wait", "ｗａｉｔ", ["ｗａｉｔ"]),  # fullwidth: shown as written
    ("let me", "So Let\nme see, let  me", ["Let\nme", "let  me"]),
    ("wait", "wait wait, Wait", ["wait", "wait", "Wait"]),
    ("wait", "awaiting waits", []),
    ("naïve", "so nai\u0308ve", ["nai\u0308ve"]),  # decomposed: the combining mark belongs to the match
    ("let's", "let’s go", ["let’s"]),
    ("straße", "STRASSE", ["STRASSE"]),
    ("re:wai+t", "WAIIIT, wait", ["WAIIIT", "wait"]),
    ("re:over\\w+", "it covers the overshadow", ["overshadow"]),  # a regex match is whole too
    ("检查", "我需要再检查一下", ["检查"]),
    ("ai模型", "用AI模型, xai模型", ["AI模型"]),  # the boundary at its Latin end only
]


@pytest.mark.parametrize(("term", "text", "found"), CASES)
def test_occurrences_are_found_in_the_original_text(term: str, text: str, found: list[str]) -> None:
    spans = find_occurrences(text, parse_term(term))
    assert [text[a:b] for a, b in spans] == found
    assert len(spans) == count_terms([text], [parse_term(term)])[0, 0]


def test_offsets_stay_right_after_text_that_folds_longer_or_shorter() -> None:
    text = "Straße ﬁne İstanbul ｗａｉｔ, then wait"  # ß → ss, ﬁ → fi, İ → i̇: the folded text is longer
    spans = find_occurrences(text, parse_term("wait"))
    assert spans == [(20, 24), (31, 35)]
    assert [text[a:b] for a, b in spans] == ["ｗａｉｔ", "wait"]


def test_substring_mode_finds_what_lower_count_counts() -> None:
    text = "İ Awaiting, WAIT"  # "İ".lower() is two characters
    term = parse_term("wait", substring=True)
    spans = find_occurrences(text, term)
    assert [text[a:b] for a, b in spans] == ["wait", "WAIT"]
    assert len(spans) == text.lower().count("wait")


PIECES = [
    *("wait", "Wait", "WAIT", "let", "me", "double", "check", "straße", "STRASSE", "the", "User"),
    *(" ", "\n", ",", "-", "'", "_", "2", "é", "看", "В", "ｗａｉｔ", "ß", "ﬁ", "İ", "Σ", "ς", "’", "x"),
    *("\u0301", "e\u0301", "\u1100\u1161", "가\u11a8", "\u0f73", "\u212b", "\uff21"),  # joining, composing
]
TERMS = ["wait", "let me", "double-check", "check", "straße", "the user", "re:wai+t"]


def test_located_occurrences_are_counted_ones_on_random_texts() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
    def check(text: str) -> None:
        assert folded_with_clusters(text).text == fold(text)
        terms = [parse_term(t) for t in TERMS]
        counts = count_terms([text], terms)[0]
        for term, count in zip(terms, counts, strict=True):
            spans = find_occurrences(text, term)
            assert len(spans) == count, (term.text, text)
            for start, end in spans:
                if term.kind != "regex":  # the original span folds to the term
                    assert " ".join(fold(text[start:end]).split()) == term.key, (term.text, text)

    check()


# ---- Over a store

A_TEXT = "Hmm. Wait, the sum is 12.\nWait — let me\ncheck again: wait."
B_TEXT = "Straße first. ｗａｉｔ here, then wait there."
RECORD_KEYS = ["model", "source", "transcript_id", "left", "match", "right", "start", "end"]


@pytest.fixture
def waits(tmp_path: Path, store: Store) -> Store:
    records = [
        chat(1, A_TEXT, model="a"),
        chat(2, "Nothing to see.", model="a"),
        chat(3, B_TEXT, answer="No wait in the answer? wait.", model="b"),
        *(chat(10 + i, f"Step {i}: wait, then wait again ({i}).", model="c") for i in range(30)),
    ]
    ingest([str(write_jsonl(tmp_path / "waits.jsonl", records))], store)
    return store


def lines(result: Result) -> list[tuple[str, int, str]]:
    return [(r["source"].rsplit(":", 1)[1], r["start"], r["match"]) for r in result.data_rows()]


def test_first_lines_in_store_order_with_offsets_in_the_original_text(waits: Store) -> None:
    result = compute_kwic(waits, parse_term("wait"), Selection(("a", "b")), KwicOptions())
    assert lines(result) == [
        ("line 1", 5, "Wait"),
        ("line 1", 26, "Wait"),
        ("line 1", 53, "wait"),
        ("line 3", 14, "ｗａｉｔ"),  # after "ß", one character that folds to two
        ("line 3", 30, "wait"),
    ]
    for record in result.data_rows():
        text = A_TEXT if record["model"] == "a" else B_TEXT
        assert text[record["start"] : record["end"]] == record["match"]
    second = result.data_rows()[1]
    assert (second["left"], second["right"]) == ("Hmm. Wait, the sum is 12. ", " — let me check again: wait.")


def test_json_rows_have_frozen_keys(waits: Store) -> None:
    document = compute_kwic(waits, parse_term("wait"), Selection(), KwicOptions(limit=3)).to_document()
    assert document["command"] == "kwic"
    assert document["columns"] == RECORD_KEYS
    assert [list(row) for row in document["rows"]] == [RECORD_KEYS] * 3
    assert document["definitions"]["selection"] == Selection().describe()


def test_the_limit_stops_at_the_first_lines(waits: Store) -> None:
    result = compute_kwic(waits, parse_term("wait"), Selection(), KwicOptions(limit=4))
    assert [(src, start) for src, start, _ in lines(result)] == [
        ("line 1", 5),
        ("line 1", 26),
        ("line 1", 53),
        ("line 3", 14),
    ]
    assert "first 4 occurrences" in result.caption


def test_a_sample_is_seeded_and_drawn_from_every_occurrence(waits: Store) -> None:
    every = lines(compute_kwic(waits, parse_term("wait"), Selection(), KwicOptions(limit=1000)))
    assert len(every) == 5 + 60

    def sample(seed: int) -> Result:
        return compute_kwic(
            waits, parse_term("wait"), Selection(), KwicOptions(limit=7, sample=True, seed=seed)
        )

    first = sample(0)
    assert lines(first) == lines(sample(0))  # same seed, same lines
    assert lines(first) != lines(sample(1))
    assert len(lines(first)) == 7 and set(lines(first)) <= set(every)
    assert lines(first) == sorted(lines(first), key=every.index)  # shown in store order
    assert "7 of 65 occurrences in 32 transcripts" in first.caption
    assert first.to_document()["definitions"]["occurrences"] == 65


def test_a_sample_larger_than_the_occurrences_is_all_of_them(waits: Store) -> None:
    options = KwicOptions(limit=100, sample=True)
    result = compute_kwic(waits, parse_term("wait"), Selection(("a", "b")), options)
    assert len(result.rows) == 5


def test_the_answer_field_and_no_occurrences(waits: Store) -> None:
    answers = compute_kwic(waits, parse_term("wait"), Selection(("b",)), KwicOptions(field="answer"))
    assert [r["match"] for r in answers.rows] == ["wait", "wait"]
    nothing = compute_kwic(waits, parse_term("marinade"), Selection(), KwicOptions())
    assert nothing.rows == [] and "first 0 occurrences" in nothing.caption


def test_bad_options_and_selections_are_errors(waits: Store) -> None:
    with pytest.raises(UsageError, match="--limit"):
        compute_kwic(waits, parse_term("wait"), Selection(), KwicOptions(limit=0))
    with pytest.raises(UsageError, match="--field"):
        compute_kwic(waits, parse_term("wait"), Selection(), KwicOptions(field="prompt"))
    with pytest.raises(CotlensError, match="no model 'zz'"):
        compute_kwic(waits, parse_term("wait"), Selection(("zz",)), KwicOptions())


def test_the_kernel_and_its_result_cross_process_boundaries(waits: Store) -> None:
    kernel = _KwicKernel(parse_term("wait"), KwicOptions(sample=True))
    assert pickle.loads(pickle.dumps(kernel)) == kernel  # map_store sends it to worker processes
    [part] = waits.part_files()
    found = kernel(read_row_group(str(part), 0, kernel.columns(), Selection()))
    assert pickle.loads(pickle.dumps(found)) == found
    assert (found.occurrences, found.transcripts) == (65, 32)


# ---- Context and hostile text

HOSTILE = (
    "Fine.\x1b[31m red \x1b[0m then [bold red]loud[/bold red]\r\n over\x00written \u202eevil\u202c wait "
    "and [link=http://x]click[/link]\x1b]8;;http://x\x07 done."
)


@pytest.fixture
def hostile(tmp_path: Path, store: Store) -> Store:
    long_line = "x" * 5000 + " wait " + "y" * 5000
    chinese = "这个问题很难，我们需要仔细思考，" * 10 + "wait" + "好的" * 50
    records = [chat(1, HOSTILE), chat(2, long_line), chat(3, chinese, model="[bold]m[/bold]\x1b[2J")]
    ingest([str(write_jsonl(tmp_path / "hostile.jsonl", records))], store)
    return store


def rendered(result: Result, fmt: OutputFormat = OutputFormat.table) -> str:
    out = io.StringIO()
    render(result, fmt, Console(file=out, width=400, color_system=None))
    return out.getvalue()


def test_hostile_text_renders_inert_on_one_line(hostile: Store) -> None:
    result = compute_kwic(hostile, parse_term("wait"), Selection(), KwicOptions(width=100))
    record = result.data_rows()[0]
    assert "\x1b[31m" in record["left"] and "\x1b" in record["right"]  # the rows keep the raw text
    for fmt in (OutputFormat.table, OutputFormat.csv, OutputFormat.md):
        out = rendered(result, fmt)
        for unsafe in ("\x1b", "\r", "\x00", "\u202e", "\x07"):
            assert unsafe not in out, (fmt, unsafe)
    # JSON is data: the text as it is, control characters escaped by the encoder (bidi controls are not).
    assert json.loads(rendered(result, OutputFormat.json))["rows"][0] == record
    assert "\x1b" not in rendered(result, OutputFormat.json)
    table = rendered(result)
    assert "[bold red]loud[/bold red]" in table and "␛[31m" in table and "<U+202E>" in table
    assert "[bold]m[/bold]␛[2J" in table
    # One table line per occurrence: the title, header and rule, three lines, the caption.
    shown = table.splitlines()
    assert len(shown) == 7 and all("wait" in line for line in shown[3:6])


def test_context_is_cut_to_the_width_in_display_columns(hostile: Store) -> None:
    result = compute_kwic(hostile, parse_term("wait"), Selection(), KwicOptions(width=20))
    long_line, chinese = result.data_rows()[1:]
    assert long_line["left"] == "…" + "x" * 18 + " " and long_line["right"] == " " + "y" * 18 + "…"
    # Wide characters take two columns each: 19 columns, another would not fit.
    assert chinese["left"] == "…我们需要仔细思考，" and chinese["right"] == "好的" * 4 + "好…"
    for row in result.rows:  # the table's left context: padded to the width as shown, so the matches line up
        assert cell_len(printable(row["left"])) == 20


def test_a_short_text_is_shown_whole(hostile: Store, tmp_path: Path, store: Store) -> None:
    result = compute_kwic(hostile, parse_term("wait"), Selection(), KwicOptions(width=200))
    record = result.data_rows()[0]
    assert not record["left"].startswith("…") and not record["right"].endswith("…")
    assert " ".join(HOSTILE.split()) == " ".join((record["left"] + "wait" + record["right"]).split())
