"""The worker server forked at the start of a command (runtime/early.py): workers fork from it, with the server's
environment and imports; it ends with the command; and no command leaves its socket's folder behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cotlens.ingest import ingest
from cotlens.runtime import early, launch, workers
from cotlens.store import Store
from tests.helpers import chat, write_jsonl

FORKED = """
import os
from cotlens.runtime import early
early.fork_server(["cotlens.scan"])
server = early._forked[0][2]
from cotlens.runtime.workers import server_started, worker_pool
started = server_started()
with worker_pool(2) as pool:
    parents = {pool.submit(os.getppid).result() for _ in range(4)}
    threads = pool.submit(os.getenv, "POLARS_MAX_THREADS").result()
    imported = pool.submit(eval, "'cotlens.scan' in __import__('sys').modules").result()
print(started, parents == {server}, threads, imported, "POLARS_MAX_THREADS" in os.environ, flush=True)
"""


def _environment(tmp_path: Path) -> dict[str, str]:
    """This environment with its own temporary folder (to see what is left there), no thread limits set."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in early.WORKER_ENVIRONMENT}
    return {**env, "TMPDIR": str(tmp_path / "tmp")}


def test_workers_fork_from_the_server_forked_at_the_start(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORKED],
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # Its workers' parent is that server; they have its environment (this process has not) and its imports.
    assert done.stdout.split() == ["True", "True", "1", "True", "False"]


def test_the_forked_server_ends_when_the_command_is_killed(tmp_path: Path) -> None:
    script = FORKED.replace("print(", "print(server, ") + "import time; time.sleep(120)\n"
    command = subprocess.Popen(
        [sys.executable, "-c", script], env=_environment(tmp_path), stdout=subprocess.PIPE, text=True
    )
    assert command.stdout is not None
    server = int(command.stdout.readline().split()[0])
    os.kill(command.pid, signal.SIGKILL)
    command.wait(10)
    deadline = time.monotonic() + 10
    while _running(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(server)


def _running(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_a_command_with_workers_leaves_no_socket_folder(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    ingest([str(write_jsonl(tmp_path / "a.jsonl", [chat(i) for i in range(30)]))], store)
    env = _environment(tmp_path)
    cotlens = Path(sys.executable).parent / "cotlens"
    rates = [str(cotlens), "rates", "--store", str(store.root), "--term", "wait", "--format", "json"]
    done = subprocess.run(rates, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "tmp").iterdir()) == []
    # A server multiprocessing starts itself (a pool started later, as ingest's) has its folder removed too.
    late = (
        "from cotlens.runtime import launch, workers; workers.start_server(['cotlens.scan']); launch.leave(0)"
    )
    done = subprocess.run([sys.executable, "-c", late], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_server_that_cannot_be_forked_leaves_the_pool_to_start_one(tmp_path: Path) -> None:
    # A temporary folder whose socket path would be too long for AF_UNIX (108 bytes): nothing forked, nothing
    # left; the command goes on (a pool would start its server as multiprocessing does).
    deep = tmp_path / ("x" * 120)
    deep.mkdir()
    script = "import os; from cotlens.runtime import early; r = early.fork_server(['cotlens.scan']); "
    script += "print(r, early.forked(), os.listdir(os.environ['TMPDIR']))"
    env = {**_environment(tmp_path), "TMPDIR": str(deep)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "False False []\n", "")


def test_another_python_starts_the_server_through_multiprocessing(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(early, "supported", lambda: False)
    monkeypatch.setattr(early, "fork_server", lambda modules: pytest.fail("forked"))
    monkeypatch.setattr(workers, "start_server", started.append)
    launch.start_server(["cotlens.scan"])
    assert started == [["cotlens.scan"]]


def test_a_fork_server_that_authenticates_is_left_to_start_its_own(tmp_path: Path) -> None:
    """A Python whose fork server holds a key (3.14's) is not handed the forked one, which then ends."""
    script = (
        "import os, time; from multiprocessing import forkserver; from cotlens.runtime import early\n"
        "assert early.fork_server(['cotlens.scan'])\n"
        "pid = early._forked[0][2]\n"
        "forkserver._forkserver._forkserver_authkey = None\n"
        "print(early.adopt(), forkserver._forkserver._forkserver_pid)\n"
        "for _ in range(200):\n"
        "    if os.waitpid(pid, os.WNOHANG)[0]: print('ended'); break\n"
        "    time.sleep(0.05)\n"
        "early.remove_socket()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=_environment(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "False None\nended\n", "")
