"""The entry point: whether a command line reads text in worker processes (launch.reads_text, from the commands'
declarations in runtime/preload.py, checked here against the CLI), and how the process ends (launch.leave)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from cotlens.runtime.launch import asks_for_ray, reads_text
from cotlens.runtime.preload import COMMANDS, server_modules


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ([], False),
        (["keywords", "orion-3"], True),
        (["rates"], False),
        (["rates", "--lexicon", "o3-dialect"], False),
        (["rates", "--term", "wait"], True),
        (["rates", "--term=wait"], True),
        (["rates", "--tokens", "words"], True),
        (["compare", "a", "b", "--term", "wait"], True),
        (["compare", "a", "b", "--fields", "reasoning,answer"], False),
        (["langmix", "--ignore-script", "Greek"], True),
        (["filter", "--term", "wait", "--where", "rate(terms:wait) < 1"], False),  # counts in its own process
        (["langmix", "--examples", "2"], True),
        (["loops", "--term", "wait"], False),  # not a command that reads text
        (["ingest", "x.jsonl"], False),
    ],
)
def test_reads_text(args: list[str], want: bool) -> None:
    assert reads_text(args) is want


@pytest.mark.parametrize(
    ("args", "env", "want"),
    [
        (["rates", "--engine", "ray"], None, True),
        (["keywords", "m", "--engine=ray"], None, True),
        (["rates", "--engine", "local"], "ray", False),  # the option wins over the environment
        (["rates", "--term", "x"], "ray", True),
        (["rates", "--term", "x"], None, False),
        (["rates", "--term", "--engine"], None, False),
    ],
)
def test_asks_for_ray(args: list[str], env: str | None, want: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Ray engine forks no local workers: the entry point starts no server for them."""
    monkeypatch.delenv("COTLENS_ENGINE", raising=False)
    if env is not None:
        monkeypatch.setenv("COTLENS_ENGINE", env)
    assert asks_for_ray(args) is want


def test_a_lexicon_file_reads_text(tmp_path: Path) -> None:
    lexicon = tmp_path / "mine.txt"
    lexicon.write_text("overshadow\n")
    assert reads_text(["rates", "--lexicon", str(lexicon)])
    assert reads_text(["rates", f"--lexicon={lexicon}"])
    assert not reads_text(["rates", "--lexicon", str(tmp_path / "missing.txt")])


def test_python_m_cotlens_runs_the_cli_and_keeps_the_exit_code() -> None:
    done = subprocess.run([sys.executable, "-m", "cotlens", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("cotlens ")
    bad = subprocess.run([sys.executable, "-m", "cotlens", "rates", "--tokens", "bytes"], capture_output=True)
    assert bad.returncode == 2


def test_every_declaration_names_a_command_its_options_and_modules_that_exist() -> None:
    """The declarations cannot drift from the CLI: a renamed command, option or module fails here."""
    from typer.main import get_command

    from cotlens.cli import app

    group = get_command(app)
    for name, workers in COMMANDS.items():
        command = group.commands.get(name)  # type: ignore[attr-defined]
        assert command is not None, name
        options = {o for param in command.params for o in param.opts}
        assert workers.options <= options, (name, workers.options - options)
        if workers.lexicon_files:
            assert "--lexicon" in options, name
        for module in workers.modules:
            assert importlib.util.find_spec(module.removesuffix(".*")) is not None, module
    every = server_modules()
    for module in every:
        assert importlib.util.find_spec(module) is not None, module
    assert {"cotlens.ingest", "cotlens.measure.repetition", "cotlens.measure.scripts"} <= set(every)


def test_a_commands_server_imports_its_own_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    from cotlens.runtime import preload

    monkeypatch.setattr(preload, "_command", [])
    preload.run_command("rates")
    assert preload.server_modules() == (
        "polars",
        "numpy.ma",
        "numpy.random",
        "cotlens.scan",
        "cotlens.analyses.rates",
    )
    preload.run_command("ingest")
    kernels = [m for m in preload.server_modules() if m.startswith("cotlens.measure.")]
    assert "cotlens.measure.lexicon_counts" in kernels and "cotlens.measure.tokens" in kernels


def test_a_servers_imports_are_what_its_workers_run() -> None:
    """A worker reads row groups through pyarrow.parquet: its server imports neither pyarrow.dataset nor
    typer nor rich (the main process's), each a part of the time before the first row group is counted."""
    program = (
        "import sys, importlib; from cotlens.runtime.preload import run_command, server_modules; "
        "run_command('rates'); [importlib.import_module(m) for m in ['cotlens.runtime.server', *server_modules()]]; "
        "print(sorted(m for m in ('pyarrow.dataset', 'typer', 'rich', 'numpy.ma', 'polars') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.stdout == "['numpy.ma', 'polars']\n", done.stderr


INTERRUPTED_IMPORT = """
import sys

class Interrupted:  # Ctrl-C while the CLI is imported
    def find_spec(self, name, path=None, target=None):
        if name == "cotlens.cli":
            raise KeyboardInterrupt

sys.meta_path.insert(0, Interrupted())
sys.argv = ["cotlens", "rates", "--term", "wait"]
from cotlens.runtime.launch import main
main()
"""


def test_ctrl_c_before_the_cli_is_imported_is_said_as_the_cli_says_it() -> None:
    from cotlens.cli.app import EXIT_INTERRUPTED
    from cotlens.runtime import launch

    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_IMPORT], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "cotlens: interrupted\n")
    assert launch.EXIT_INTERRUPTED == EXIT_INTERRUPTED


def _exit_code_and_teardown(code: str, env: dict[str, str]) -> tuple[int, str]:
    """Run launch.leave(code) in a fresh interpreter with an atexit hook: whether the teardown ran shows."""
    program = (
        "import atexit; atexit.register(lambda: print('teardown', flush=True)); "
        f"from cotlens.runtime.launch import leave; print('out'); leave({code})"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(("debug", "teardown"), [("", False), ("1", True)])
def test_leave_skips_the_teardown_unless_debugging(debug: str, teardown: bool) -> None:
    import os

    env = {**os.environ, "COTLENS_DEBUG": debug}
    assert _exit_code_and_teardown("3", env) == (3, "out\n" + ("teardown\n" if teardown else ""))
    code, said = _exit_code_and_teardown("'cotlens: interrupted'", env)
    assert code == 1 and said.startswith("out\n") and "cotlens: interrupted\n" in said


def test_a_running_server_lets_smaller_stores_use_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the server workers fork from runs (the launcher started it), a pool costs little: the size from
    which a store repays one is lower."""
    from cotlens import scan
    from cotlens.ingest import ingest
    from cotlens.store import Store
    from tests.helpers import chat, write_jsonl

    store = Store(tmp_path / "store")
    ingest([str(write_jsonl(tmp_path / "a.jsonl", [chat(i) for i in range(20)]))], store)
    size = sum(p.stat().st_size for p in store.part_files())
    monkeypatch.setattr(scan, "WARM_POOL_MIN_BYTES", size)
    monkeypatch.setattr(scan, "POOL_MIN_BYTES", size + 1)
    for started, repays in ((False, False), (True, True)):
        monkeypatch.setattr(scan, "server_started", lambda started=started: started)
        assert scan.repays_workers(store) is repays


@pytest.mark.parametrize(("given", "want"), [(None, "1"), ("3", "3")])
def test_the_entry_point_runs_openblas_on_one_thread_unless_told(given: str | None, want: str) -> None:
    """OpenBLAS's threads spin after numpy's import whether or not a product runs: the entry point asks for one
    thread before anything imports numpy; a value the user set is kept."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    # A finder that looks at the variable when numpy is first imported (and finds nothing itself).
    program = (
        "import os, sys\n"
        "class Watch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'numpy': print('at numpy', os.environ.get('OPENBLAS_NUM_THREADS'))\n"
        "sys.meta_path.insert(0, Watch())\n"
        "sys.argv = ['cotlens', '--version']\n"
        "import cotlens.runtime.launch as launch\n"
        "launch.main()\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and f"at numpy {want}\n" in done.stdout, done.stdout + done.stderr
