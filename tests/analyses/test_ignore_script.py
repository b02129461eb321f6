"""--ignore-script in compare (and its gates), loops and keywords, with langmix's meaning: the script's letters
are no letters. Script names in any case; an unknown one is a usage error with the nearest names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cotlens.cli import app
from cotlens.ingest import ingest
from cotlens.store import Store
from tests.helpers import chat, write_jsonl

runner = CliRunner()
# Model a writes plain English; model b the same with Greek math variables (and one real Cyrillic word).
PLAIN = ["The angle is sixty degrees, so the answer follows.", "We take the radius r and double it."] * 4
GREEK = ["The angle θ is sixty degrees, so the answer follows.", "We take 2πr and double it for λλ."] * 3
GREEK += ["Then θ again, and θ once more: θ.", "Hmm, это странно. Wait, θ is fine."]


@pytest.fixture(scope="module")
def greek(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ignore")
    records = [chat(i, t, model="a") for i, t in enumerate(PLAIN)]
    records += [chat(100 + i, t, model="b") for i, t in enumerate(GREEK)]
    store = Store(root / "store")
    ingest([str(write_jsonl(root / "in.jsonl", records))], store)
    return store.root


def run(store: Path, *args: str) -> tuple[int, str]:
    """The exit code, and stdout when it succeeded or the whole output when not."""
    got = runner.invoke(app, [*args, "--store", str(store)])
    return got.exit_code, got.stdout if got.exit_code in (0, 3) else got.output


def share(output: str, side: str) -> float:
    rows = json.loads(output)["rows"]
    [value] = [r["value"] for r in rows if r["metric"] == "nonlatin_token_share" and r["side"] == side]
    return float(value)


def test_compare_and_its_gate_leave_greek_out(greek: Path) -> None:
    code, out = run(greek, "compare", "a", "b", "--format", "json")
    assert code == 0 and share(out, "b") > 0
    gate = ["--fail-if", "value(nonlatin_token_share) > 0"]
    assert run(greek, "compare", "a", "b", *gate)[0] == 3  # Greek θ and π fail the gate...
    code, out = run(greek, "compare", "a", "b", "--ignore-script", "greek", "--format", "json", *gate)
    assert json.loads(out)["definitions"]["ignored_scripts"] == ["Greek"]
    assert share(out, "b") > 0  # ...the Cyrillic word still counts
    code, out = run(
        greek, "compare", "a", "b", "--ignore-script", "GREEK", "--ignore-script", "cyrillic", *gate
    )
    assert code == 0, out


def test_loops_leaves_greek_out(greek: Path) -> None:
    def elsewhere(*extra: str) -> float:
        code, out = run(greek, "loops", "b", "--format", "json", *extra)
        assert code == 0, out
        return float(json.loads(out)["sections"][0]["rows"][0]["not_looping_share"])

    assert elsewhere() > elsewhere("--ignore-script", "Greek") > 0  # the Cyrillic tokens remain
    assert elsewhere("--ignore-script", "greek", "--ignore-script", "Cyrillic") == 0


def test_keywords_leave_greek_out(greek: Path) -> None:
    def words(*extra: str) -> set[str]:
        code, out = run(
            greek, "keywords", "b", "--min-count", "2", "--min-transcripts", "1", "--format", "json", *extra
        )
        assert code == 0, out
        return {r["word"] for r in json.loads(out)["rows"]}

    assert {"θ", "λλ"} <= words("--top", "100")
    kept = words("--top", "100", "--ignore-script", "greek")
    # Its letters are no letters: "2πr" leaves the words "2" (a number, left out) and "r".
    assert not kept & {"θ", "λλ", "2πr", "π"} and "r" in kept


@pytest.mark.parametrize("command", ["compare a b", "loops", "keywords b", "langmix", "filter --dry-run"])
def test_unknown_script_is_a_usage_error_with_the_nearest(greek: Path, command: str) -> None:
    code, out = run(greek, *command.split(), "--ignore-script", "greak")
    assert code == 2
    assert "did you mean 'Greek'?" in out and "Cyrillic" not in out
    code, out = run(greek, *command.split(), "--ignore-script", "latin")
    assert code == 2 and "Latin" in out
