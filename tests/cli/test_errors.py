"""One voice for errors: `cotlens: error: ...` (exit 1), `cotlens: usage error: ...` (exit 2), one line, the
nearest names rather than every name, never an exception's name or a traceback. (tests/conftest.py checks every
CLI invocation of the suite for the prefixes; these are the error paths this issue names.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cotlens.cli import app
from cotlens.ingest import IngestOptions, ingest
from cotlens.location import blotted
from cotlens.store import Store
from tests.conftest import DEMO, check_voice
from tests.helpers import chat, write_jsonl

runner = CliRunner()


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("errors")
    store = Store(root / "store")
    path = write_jsonl(root / "a.jsonl", [chat(i, "Wait, let me check.", model="orion-3") for i in range(4)])
    ingest([str(path)], store, IngestOptions(tags={"effort": "high"}))
    ingest([str(DEMO / "plain-7b.jsonl")], store)
    return store.root


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["rates", "--by", "tag:efort"],
            2,
            "--by tag:efort: no selected transcript has the tag 'efort'; did you mean 'effort'?",
        ),
        (["rates", "orion"], 1, "no model 'orion' in the store; did you mean 'orion-3'?"),
        (
            ["rates", "--lexicon", "o3-dialekt"],
            2,
            "no built-in lexicon or file 'o3-dialekt'; did you mean 'o3-dialect'?",
        ),
        (["rates", "--kind", "raww"], 2, "unknown reasoning kind(s) raww; did you mean 'raw'?"),
        (
            ["keywords", "orion-3", "--vs", "plain-7"],
            1,
            "no model 'plain-7' in the store; did you mean 'plain-7b'?",
        ),
        (
            ["compare", "orion-3", "plain-7b", "--fail-if", "ratio(loop_shar) > 2"],
            2,
            "did you mean 'loop_share'",
        ),
        (["filter", "--dry-run", "--where", "loop_shar > 2"], 2, "unknown metric 'loop_shar'"),
        (["langmix", "--ignore-script", "Grek"], 2, "no script 'Grek'; did you mean 'Greek'?"),
        (["models", "--format", "xml"], 2, "'xml' is not one of"),
        (["compare"], 2, "Missing argument"),
        # Numbers past what the work can take are usage errors, not failures deep inside it.
        (["rates", "--seed", "-3"], 2, "'--seed': Input should be greater than or equal to 0"),
        (
            ["rates", "--seed", "1" + "0" * 20],
            2,
            "'--seed': Input should be less than or equal to 9223372036854775807",
        ),
        (
            ["kwic", "wait", "--sample", "--seed", "-1"],
            2,
            "'--seed': Input should be greater than or equal to 0",
        ),
        (
            ["rates", "--resamples", "1000001"],
            2,
            "'--resamples': Input should be less than or equal to 1000000",
        ),
        (["kwic", "wait", "--limit", "1" + "0" * 20], 2, "'--limit': Input should be less than or equal to"),
        (["kwic", "wait", "--width", "10001"], 2, "'--width': Input should be less than or equal to 10000"),
        # An infinite limit has no byte count (it was an unexpected failure).
        (
            ["ingest", str(DEMO / "plain-7b.jsonl"), "--max-record-mb", "inf"],
            2,
            "'--max-record-mb': Input should be less than or equal to 1048576",
        ),
        (
            ["ingest", str(DEMO / "plain-7b.jsonl"), "--max-document-mb", "1e400"],
            2,
            "'--max-document-mb': Input should be less than or equal to 1048576",
        ),
        # Outputs go to local paths: a URI is refused before any work (it was a local folder named `s3:`, or a
        # failure after the whole report was made).
        (
            ["filter", "--where", "not loop", "--out", "s3://bucket/kept.jsonl"],
            2,
            "'--out': 's3://bucket/kept.jsonl' is a URI: outputs are written to local paths only (object "
            "storage holds stores and inputs)",
        ),
        (
            ["filter", "--dry-run", "--exclusions", "gs://b/x.jsonl"],
            2,
            "'--exclusions': 'gs://b/x.jsonl' is a URI",
        ),
        (["report", "--out", "s3://bucket/report.html"], 2, "'--out': 's3://bucket/report.html' is a URI"),
        (["plot", "rates", "--out", "S3://bucket/rates.svg"], 2, "'--out': 'S3://bucket/rates.svg' is a URI"),
    ],
)
def test_errors_in_one_voice(tagged: Path, args: list[str], code: int, message: str) -> None:
    got = runner.invoke(app, [*args, "--store", str(tagged)])
    assert got.exit_code == code, got.output
    [line] = got.stderr.splitlines()  # one line
    assert line.startswith("cotlens: usage error: " if code == 2 else "cotlens: error: ")
    assert message in line
    assert "orion-3, plain-7b" not in line  # the nearest names, not every name


def test_a_path_of_another_scheme_or_empty_is_neither_a_store_nor_a_local_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`s4://b/x` was taken as a local path: ingest made a folder `s4:` and failed in pyarrow; an input of it was
    "no such file"."""
    monkeypatch.chdir(tmp_path)
    plain = str(DEMO / "plain-7b.jsonl")
    for store in ("s4://bucket/store", "HDFS://host/store", "file:///tmp/store"):
        for args in (["ingest", plain], ["models"], ["rates", "--term", "wait"]):
            got = runner.invoke(app, [*args, "--store", store])
            assert got.exit_code == 2, got.output
            scheme = store.partition(":")[0].lower()
            assert got.stderr == (
                f"cotlens: usage error: store {store}: {scheme}:// is not supported: use a local path, or an "
                "s3:// or gs:// URI\n"
            )
    for args in (["ingest", plain], ["models"], ["kwic", "wait"]):  # it was the current directory
        got = runner.invoke(app, [*args, "--store", " "])
        assert got.exit_code == 2
        assert (
            got.stderr
            == "cotlens: usage error: the store path is empty: give --store PATH (or COTLENS_STORE)\n"
        )
    got = runner.invoke(app, ["ingest", "http://example.com/a.jsonl", "--store", "store"])
    assert got.exit_code == 1
    assert got.stderr.splitlines()[-1] == (
        "cotlens: error: http://example.com/a.jsonl: no such file (http:// is not supported: use a local path, "
        "or an s3:// or gs:// URI)"
    )
    assert list(tmp_path.iterdir()) == []


def test_credentials_in_a_path_as_typed_are_never_echoed(tagged: Path) -> None:
    """A message that quotes a path as it was typed (an unknown lexicon, a mapping that is no file) printed the
    credentials of a URI in it: every line on stderr goes without them."""
    uri = "s3://AKIAEXAMPLE:se%2Fcret-key@bucket/lex.txt?endpoint_override=h:9000&session_token=TOKEN123"
    got = runner.invoke(app, ["rates", "--lexicon", uri, "--store", str(tagged)])
    assert got.exit_code == 2
    assert got.stderr.startswith(
        "cotlens: usage error: no built-in lexicon or file "
        "'s3://***@bucket/lex.txt?endpoint_override=h:9000&session_token=***'"
    )
    got = runner.invoke(app, ["ingest", str(DEMO / "plain-7b.jsonl"), "--map", uri, "--store", str(tagged)])
    assert got.exit_code == 2 and "--map s3://***@bucket/lex.txt?" in got.stderr
    for said in (got.stderr, runner.invoke(app, ["rates", "--lexicon", uri, "--store", str(tagged)]).stderr):
        assert "AKIAEXAMPLE" not in said and "se%2Fcret" not in said and "TOKEN123" not in said
    assert blotted("email bob@example.com, gs://u:p@b/k, http://host/x?key=1") == (
        "email bob@example.com, gs://***@b/k, http://host/x?key=***"
    )


def test_tag_keys_present_are_listed(tagged: Path) -> None:
    got = runner.invoke(app, ["langmix", "--by", "tag:nothing-like-it", "--store", str(tagged)])
    assert got.exit_code == 2 and "(tags present: effort, finish_reason)" in got.stderr


def test_a_missing_store_says_so(tmp_path: Path) -> None:
    for command in (["models"], ["rates", "orion-3"], ["loops"], ["kwic", "wait"]):
        got = runner.invoke(app, [*command, "--store", str(tmp_path / "nowhere")])
        assert got.exit_code == 1
        assert f"cotlens: error: no cotlens store at {tmp_path / 'nowhere'}" in got.stderr
        assert "(none)" not in got.stderr


def test_a_regex_error_shows_the_engines_whole_message(tagged: Path) -> None:
    got = runner.invoke(app, ["rates", "--term", "re:(?<=a)b", "--store", str(tagged)])
    assert got.exit_code == 2
    assert "look-around, including look-ahead and look-behind, is not supported" in got.stderr
    assert "This error occurred" not in got.stderr and len(got.stderr.splitlines()) == 1


def test_an_unexpected_failure_is_one_line_without_its_name(
    tagged: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cotlens.analyses.inventory

    def broken(store: Store) -> None:
        raise KeyError("reasoning_chars")

    monkeypatch.setattr(cotlens.analyses.inventory, "summarize_models", broken)
    got = runner.invoke(app, ["models", "--store", str(tagged)])
    assert got.exit_code == 1
    assert got.stderr.startswith(
        "cotlens: error: unexpected failure ('reasoning_chars'); rerun with COTLENS_DEBUG=1"
    )


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (KeyError("content"), "missing field 'content'"),
        (IndexError("list index out of range"), "an empty list where an item was expected"),
        (
            TypeError("string indices must be integers, not 'str'"),
            "string indices must be integers, not 'str'",
        ),
        (ValueError(), "an unexpected structure"),
    ],
)
def test_a_parser_failure_is_said_in_words(error: Exception, words: str) -> None:
    from cotlens.parse import what_failed

    assert what_failed(error) == words


class _Result:
    def __init__(self, code: int, stderr: str) -> None:
        self.exit_code, self.stderr, self.exception = code, stderr, SystemExit(code)


@pytest.mark.parametrize(
    "result",
    [
        _Result(1, "Traceback (most recent call last):\n"),
        _Result(1, "error: no model\n"),  # no prefix
        _Result(2, "cotlens: error: wrong prefix for a usage error\n"),
        _Result(1, "cotlens: error: KeyError: 'x'\n"),
        _Result(2, "╭─ Error ─╮\ncotlens: usage error: boxed\n"),
    ],
)
def test_the_suite_wide_check_catches_other_voices(result: _Result) -> None:
    with pytest.raises(AssertionError):
        check_voice(result)
