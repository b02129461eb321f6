"""The README's CI example (between its `ci-example` markers) works as written: its cotlens steps run on the demo
fixtures and the gate step exits 3, 0 with the roles swapped, and 2 with a malformed gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import regex

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = README.split("<!-- ci-example -->")[1].split("<!-- /ci-example -->")[0]
ENV = dict(regex.findall(r"^      ([A-Z_]+): (\S+)", EXAMPLE, flags=regex.M))
STEPS = [
    step
    for step in regex.findall(r"^      - run: (.+)$", EXAMPLE, flags=regex.M)
    if step.startswith("cotlens ")
]


def run_steps(tmp_path: Path, env: dict[str, str], steps: list[str]) -> list[int]:
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    bin_dir = str(Path(sys.executable).parent)
    environment = {**os.environ, **env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    codes = []
    for step in steps:
        done = subprocess.run(
            ["bash", "-c", step], cwd=tmp_path, env=environment, capture_output=True, text=True
        )
        codes.append(done.returncode)
    return codes


def test_the_example_has_the_steps_it_describes() -> None:
    assert [s.split()[1] for s in STEPS] == ["ingest", "ingest", "compare", "compare"]
    assert {"BASELINE", "CANDIDATE", "BASELINE_FILES", "CANDIDATE_FILES"} <= set(ENV)


def test_the_gate_fails_on_the_candidate(tmp_path: Path) -> None:
    assert run_steps(tmp_path, ENV, STEPS) == [0, 0, 3, 3]
    markdown = (tmp_path / "compare.md").read_text()
    assert markdown.startswith("| metric | ")
    # The comment posted on the pull request says which gate failed.
    [gate] = [
        line for line in markdown.splitlines() if line.startswith("| ratio(nonlatin\\_token\\_share) \\> 2 |")
    ]
    assert "**Gates**" in markdown and "| lumen-mix |" in gate and "| FAIL |" in gate
    document = json.loads((tmp_path / "compare.json").read_text())
    assert document["command"] == "compare"
    verdicts = {g["gate"]: g["passed"] for g in document["gates"]}
    assert verdicts == {"ratio(nonlatin_token_share) > 2": False, "significant increase(o3-dialect)": True}


def test_the_gate_passes_with_the_roles_swapped(tmp_path: Path) -> None:
    swapped = {
        "BASELINE": ENV["CANDIDATE"],
        "CANDIDATE": ENV["BASELINE"],
        "BASELINE_FILES": ENV["CANDIDATE_FILES"],
        "CANDIDATE_FILES": ENV["BASELINE_FILES"],
    }
    assert run_steps(tmp_path, swapped, STEPS) == [0, 0, 0, 0]
    assert "All 2 gate checks passed." in (tmp_path / "compare.md").read_text()


def test_a_malformed_gate_is_a_usage_error(tmp_path: Path) -> None:
    steps = [
        *STEPS[:-1],
        STEPS[-1].replace("--fail-if", "--fail-if 'ratio(no_such_metric) > 2' --fail-if", 1),
    ]
    assert run_steps(tmp_path, ENV, steps) == [0, 0, 3, 2]
