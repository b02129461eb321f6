"""Record every command's machine-readable output, and check later that it has not changed by a byte.

    .venv/bin/python bench/golden.py record --workdir /tmp/golden      # before a restructuring step
    .venv/bin/python bench/golden.py check --workdir /tmp/golden       # after it: exit 1 and a diff on change

Two stores are built in the workdir: the shipped demo corpus, and a generated corpus (bench/corpus.py, a few MB,
five models). Every analysis runs on both with `--format json` (or `--json` where that is the option), and ingest's
own summary is kept too. Outputs are written as `<store>/<name>.out`; `check` rebuilds the stores from scratch in a
fresh folder and compares byte for byte. What names the run rather than the data (the folder, the checkout's path in
fixture paths, the ingest run's id and the store fingerprint that follows from it) is replaced before comparing,
so that two runs, or two checkouts, compare equal. A table on stderr that shows a fixture path is still as wide
as the checkout's path: compare checkouts whose paths have the same length.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COTLENS = [sys.executable, "-m", "cotlens"]


def analyses(baseline: str, other: str, reference: str) -> list[tuple[str, list[str]]]:
    """Every command that reads a store, with JSON output (and CSV and Markdown once, for the renderers);
    `baseline` and `other` are models of that store and `reference` one of its transcripts."""
    return [
        ("models", ["models", "--format", "json"]),
        ("rates-lexicon", ["rates", "--lexicon", "o3-dialect", "--format", "json"]),
        (
            "rates-terms",
            ["rates", "--term", "Wait", "--term", "re:\\bhmm+\\b", "--by", "model", "--format", "json"],
        ),
        ("langmix", ["langmix", "--format", "json"]),
        ("langmix-scripts", ["langmix", "--scripts", "--examples", "2", "--format", "json"]),
        ("loops", ["loops", "--format", "json"]),
        ("loops-model", ["loops", baseline, "--format", "json"]),
        ("keywords", ["keywords", baseline, "--top", "15", "--format", "json"]),
        ("kwic", ["kwic", "Wait", "--limit", "20", "--format", "json"]),
        ("kwic-re", ["kwic", "re:\\b[Hh]mm+", "--limit", "20", "--format", "json"]),
        (
            "filter",
            ["filter", "--dry-run", "--where", "not truncated", "--where", "not loop", "--json"],
        ),
        ("filter-term", ["filter", "--dry-run", "--where", "rate(epistemic:wait) < 5", "--json"]),
        ("compare", ["compare", baseline, other, "--format", "json"]),
        (
            "compare-terms",
            ["compare", baseline, other, "--term", "Wait", "--term", "Hmm", "--format", "json"],
        ),
        ("show", ["show", reference, "--format", "json"]),
        ("rates-csv", ["rates", "--lexicon", "epistemic", "--format", "csv"]),
        ("compare-md", ["compare", baseline, other, "--format", "md"]),
    ]


def run(argv: list[str], cwd: Path) -> bytes:
    env = {
        **os.environ,
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "COTLENS_WORKERS": os.environ.get("COTLENS_WORKERS", "2"),
    }
    done = subprocess.run([*COTLENS, *argv], cwd=cwd, env=env, capture_output=True, check=False)
    return b"exit %d\n--- stdout\n%s\n--- stderr\n%s" % (done.returncode, done.stdout, done.stderr)


def build(workdir: Path) -> dict[str, bytes]:
    """Every output, keyed by `<corpus>/<name>`, with the workdir's own path replaced by a placeholder."""
    outputs: dict[str, bytes] = {}
    corpus = workdir / "generated.jsonl"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "corpus.py"),
            "--size-mb",
            "4",
            "--seed",
            "7",
            "--out",
            str(corpus),
        ],
        check=True,
        capture_output=True,
    )
    inputs = {
        "demo": (
            sorted(str(p) for p in (REPO / "fixtures" / "demo").glob("*.jsonl")),
            "orion-3",
            "lumen-mix",
        ),
        "generated": ([str(corpus)], "deepseek-r1", "claude-sonnet-4-5"),
    }
    for name, (files, baseline, other) in inputs.items():
        store = workdir / f"{name}-store"
        outputs[f"{name}/ingest"] = run(["ingest", *files, "--store", str(store), "--json"], workdir)
        for label, argv in analyses(baseline, other, f"{files[0]}:line 5"):
            outputs[f"{name}/{label}"] = run([*argv, "--store", str(store)], workdir)
    return {
        key: anonymous(
            value.replace(str(workdir).encode(), b"<workdir>").replace(str(REPO).encode(), b"<repo>")
        )
        for key, value in outputs.items()
    }


def anonymous(output: bytes) -> bytes:
    """The output without what names this run: the ingest run's id and the store fingerprint it feeds."""
    output = re.sub(rb"\d{8}T\d{6}-[0-9a-f]{8}", b"<run>", output)
    return re.sub(rb'("store_fingerprint": )"[0-9a-f]+"', rb'\1"<fingerprint>"', output)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=("record", "check"))
    parser.add_argument("--workdir", type=Path, required=True, help="where the recorded outputs live")
    args = parser.parse_args()
    recorded = args.workdir / "recorded"
    with tempfile.TemporaryDirectory(prefix="cotlens-golden-") as scratch:
        outputs = build(Path(scratch))
    if args.action == "record":
        shutil.rmtree(recorded, ignore_errors=True)
        for key, value in outputs.items():
            path = recorded / f"{key}.out"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(value)
        print(f"recorded {len(outputs)} outputs in {recorded}")
        return
    changed = 0
    for key, value in outputs.items():
        path = recorded / f"{key}.out"
        before = path.read_bytes() if path.exists() else b"(not recorded)\n"
        if before != value:
            changed += 1
            diff = difflib.unified_diff(
                before.decode(errors="replace").splitlines(),
                value.decode(errors="replace").splitlines(),
                f"recorded/{key}",
                f"now/{key}",
                lineterm="",
                n=1,
            )
            print("\n".join(list(diff)[:60]))
    print(f"{len(outputs) - changed} of {len(outputs)} outputs equal; {changed} changed")
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
