"""The Ray engine gives what the local engine gives: the same store (ids, measurements, accounting, rejects) and
byte-identical JSON from every analysis that reads text. One local Ray (2 CPUs) serves the whole test run."""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
import ray
from ray import cloudpickle
from typer.testing import CliRunner

import cotlens.ingest
import cotlens.runtime.ray_engine
from cotlens.cli import app
from cotlens.errors import CotlensError
from cotlens.ingest import IngestOptions, ingest
from cotlens.intrinsic import unmeasured_parts
from cotlens.parse import Chunk, ChunkResult, RecordParser
from cotlens.runtime.engine import use_engine
from cotlens.store import REJECTS, STAGING, Store
from tests.conftest import DEMO, ROOT
from tests.helpers import chat, write_jsonl

runner = CliRunner()
MODELS = ("m-a", "m-b", "m-c")
WORDS = [
    "wait",
    "let",
    "me",
    "check",
    "the",
    "answer",
    "again",
    "hmm",
    "so",
    "the",
    "sum",
    "is",
    "overshadow",
    "marinade",
    "watchers",
    "illusions",
    "double-check",
    "Let's",
    "think",
    "we",
    "need",
    "the",
    "user",
    "asks",
    "I",
    "should",
    "verify",
    "carefully",
]
FOREIGN = ("这个问题", "проверим", "検討する", "θ", "مرحبا")
GENERATED = 3000
BAD_EVERY = 97  # every 97th line of the generated corpus is broken JSON


@pytest.fixture(scope="session")
def ray_started() -> Iterator[None]:
    cotlens.runtime.ray_engine.start(num_cpus=2)
    yield
    ray.shutdown()


def generated_lines(count: int, seed: int) -> list[bytes]:
    """Transcripts of three models with terms, code-switching, loops and duplicates; broken lines among them."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        if i % BAD_EVERY == BAD_EVERY - 1:
            lines.append(b'{"model": "m-a", "choices": [')
            continue
        words = [rng.choice(WORDS) for _ in range(rng.randint(5, 80))]
        if rng.random() < 0.2:
            words.insert(rng.randrange(len(words)), rng.choice(FOREIGN))
        if rng.random() < 0.05:
            words += ["and again"] * 6  # a loop
        if rng.random() < 0.03 and i > BAD_EVERY:
            lines.append(lines[rng.randrange(BAD_EVERY - 1)])  # a duplicate of an earlier record
            continue
        lines.append(orjson.dumps(chat(i, " ".join(words), rng.choice(WORDS), MODELS[i % 3])))
    return lines


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


@dataclass
class Corpus:
    inputs: list[str]
    stores: dict[str, Store]
    summaries: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, ray_started: None) -> Iterator[Corpus]:
    """The demo corpus and a generated one, ingested by each engine (small blocks and row groups, so that the
    work is many tasks)."""
    root = tmp_path_factory.mktemp("ray")
    generated = root / "generated.jsonl"
    generated.write_bytes(b"\n".join(generated_lines(GENERATED, seed=7)) + b"\n")
    inputs = [*map(str, sorted(DEMO.glob("*.jsonl"))), str(generated)]
    stores, summaries = {}, {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("cotlens.sources.BLOCK_BYTES", 64 << 10)
        patch.setattr("cotlens.store.ROW_GROUP_ROWS", 256)
        for engine in ("local", "ray"):
            stores[engine] = Store(root / f"store-{engine}")
            result = run("ingest", *inputs, "--store", str(stores[engine].root), "--json", "--engine", engine)
            assert result.exit_code == 0, result.output
            summaries[engine] = json.loads(result.stdout)
    yield Corpus(inputs, stores, summaries)


def without_run(table: pa.Table) -> pa.Table:
    return table.drop_columns(["ingest_run"])


def test_accounting_is_the_same_and_counts_bad_lines(corpus: Corpus) -> None:
    local, remote = corpus.summaries["local"], corpus.summaries["ray"]
    for doc in (local, remote):
        # The fingerprint hashes the manifest, whose run ids and times differ between the two stores.
        del doc["run_id"], doc["store"], doc["rejects_file"], doc["store_fingerprint"]
    assert local == remote
    generated = remote["inputs"][-1]
    assert generated["records"] == GENERATED
    assert generated["rejected"] == GENERATED // BAD_EVERY == 30
    assert generated["added"] + generated["duplicate"] == GENERATED - 30
    assert generated["duplicate"] > 0
    assert remote["totals"]["rejected"] == 30 + 2  # the demo corpus has two broken lines


def test_store_content_is_the_same(corpus: Corpus) -> None:
    local, remote = (without_run(corpus.stores[e].read()) for e in ("local", "ray"))
    assert remote.num_rows == corpus.summaries["ray"]["totals"]["added"] > 2000
    assert remote.column("transcript_id").to_pylist() == local.column("transcript_id").to_pylist()
    assert remote.equals(local)
    assert remote.column("reasoning_tokens_o200k").null_count < remote.num_rows  # measured at ingest


def test_rejects_are_the_same(corpus: Corpus) -> None:
    def rejects(store: Store) -> list[dict[str, Any]]:
        (path,) = (store.root / REJECTS).rglob("*.jsonl")
        entries = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        return [{k: v for k, v in e.items() if k != "ingest_run"} for e in entries]

    local, remote = (rejects(corpus.stores[e]) for e in ("local", "ray"))
    assert len(remote) == 32
    assert remote == local


ANALYSES = [
    ("rates",),
    ("rates", "--term", "wait", "--term", "let me", "--term", "re:hm+", "--term", "这个"),
    ("rates", "m-a", "m-b", "--by", "model", "--tokens", "words", "--substring", "--term", "the"),
    ("compare", "m-a", "m-b", "m-c"),
    ("compare", "m-a", "m-b", "--term", "wait", "--term", "double-check"),
    ("compare", "m-c", "--fields", "reasoning,answer"),
    ("langmix", "--scripts", "--examples", "2"),
    ("keywords", "m-a", "--min-count", "2"),
    ("keywords", "m-b", "--vs", "m-c", "--min-count", "2"),
    ("kwic", "wait", "--sample", "--limit", "15"),
]


@pytest.mark.parametrize("args", ANALYSES, ids=" ".join)
def test_analysis_json_is_byte_identical(corpus: Corpus, args: tuple[str, ...]) -> None:
    store = str(corpus.stores["local"].root)
    local = run(*args, "--store", store, "--format", "json")
    remote = run(*args, "--store", store, "--format", "json", "--engine", "ray")
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert json.loads(remote.stdout)  # a document, not an empty output
    assert remote.stdout == local.stdout


@pytest.fixture
def ray_pools(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The Ray pools started while a test runs (so it can tell that the work did go to Ray)."""
    started: list[Any] = []
    real = cotlens.runtime.ray_engine.ray_pool

    def spy(*args: Any) -> Any:
        started.append(args)
        return real(*args)

    monkeypatch.setattr(cotlens.runtime.ray_engine, "ray_pool", spy)
    return started


@pytest.mark.parametrize(
    "where",
    [
        ("--term", "wait", "--where", "rate(terms:wait) < 20"),
        (
            "--term",
            "let me",
            "--term",
            "re:hm+",
            "--where",
            "rate(terms) <= 30",
            "--ignore-script",
            "Han",
        ),
    ],
    ids=["term", "terms-and-ignored-script"],
)
def test_filter_outputs_are_byte_identical(
    corpus: Corpus, tmp_path: Path, where: tuple[str, ...], ray_pools: list[Any]
) -> None:
    store = str(corpus.stores["local"].root)
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"kept-{engine}.jsonl"
        result = run("filter", *where, "--store", store, "--out", str(out), "--json", "--engine", engine)
        assert result.exit_code == 0, result.output
        summary = result.stdout.replace(str(out), "OUT")  # the summary names its output files
        outputs[engine] = (summary, out.read_bytes(), Path(f"{out}.exclusions.jsonl").read_bytes())
    summary, kept, dropped = outputs["ray"]
    assert json.loads(summary)["rows"] and kept and dropped  # some kept, some dropped
    assert outputs["ray"] == outputs["local"]
    assert len(ray_pools) == 1  # the terms were counted by Ray tasks


def test_report_runs_as_ray_tasks_and_gives_the_same_page(
    corpus: Corpus, tmp_path: Path, ray_pools: list[Any]
) -> None:
    """report's analyses and figures go through the engine too: the same page but for its creation time."""
    store = str(corpus.stores["local"].root)
    pages = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"report-{engine}.html"
        args = ("m-a", "m-b", "--baseline", "m-a", "--examples", "0", "--resamples", "100", "--out", str(out))
        result = run("report", *args, "--store", store, "--engine", engine)
        assert result.exit_code == 0, result.output
        pages[engine] = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", out.read_text(encoding="utf-8"))
    assert len(ray_pools) == 1  # one pool of Ray tasks, for the ray run only
    assert "m-b" in pages["ray"] and pages["ray"] == pages["local"]


def test_engine_from_the_environment(corpus: Corpus, ray_pools: list[Any]) -> None:
    args = ("rates", "--term", "wait", "--store", str(corpus.stores["local"].root), "--format", "json")
    result = runner.invoke(app, list(args), env={"COTLENS_ENGINE": "ray"})
    assert result.exit_code == 0, result.output
    assert ray_pools  # the work went to Ray
    assert result.stdout == run(*args).stdout


def test_measure_gives_the_same_measurements(tmp_path: Path, corpus: Corpus) -> None:
    deferred = Store(tmp_path / "deferred")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("cotlens.store.ROW_GROUP_ROWS", 256)
        patch.setattr("cotlens.store.PART_ROWS", 1024)
        ingest(corpus.inputs[-1:], deferred, IngestOptions(measure=False))
    copy = Store(tmp_path / "copy")
    shutil.copytree(deferred.root, copy.root)
    assert len(unmeasured_parts(copy)) > 1
    assert run("measure", "--store", str(deferred.root)).exit_code == 0
    result = run("measure", "--store", str(copy.root), "--engine", "ray")
    assert result.exit_code == 0, result.output
    assert not unmeasured_parts(copy)
    assert copy.read().equals(deferred.read())


@dataclass(frozen=True)
class Crashing:
    """A parser whose worker process dies after staging its first chunk (once per marker file, or always)."""

    parser: RecordParser
    marker: str
    always: bool = False

    def __call__(self, chunk: Chunk) -> ChunkResult:
        result = self.parser(chunk)
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            first = True
        except FileExistsError:
            first = False
        if first or self.always:
            os._exit(1)
        return result


@pytest.fixture
def crash_input(tmp_path: Path, ray_started: None) -> Iterator[Path]:
    # Ray workers cannot import this test module: send the class itself.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    path = tmp_path / "crash.jsonl"
    path.write_bytes(b"\n".join(generated_lines(400, seed=3)) + b"\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("cotlens.sources.BLOCK_BYTES", 16 << 10)
        yield path
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def crashing_ingest(path: Path, store: Store, marker: Path, always: bool) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            cotlens.ingest, "RecordParser", lambda *a: Crashing(RecordParser(*a), str(marker), always)
        )
        # Retried once when it dies once; not retried when it always dies (each death costs a worker start).
        patch.setattr(cotlens.runtime.ray_engine, "TASK_RETRIES", 0 if always else 1)
        with use_engine("ray"):
            return ingest([str(path)], store)


def test_a_worker_killed_mid_ingest_is_retried(tmp_path: Path, crash_input: Path) -> None:
    local = ingest([str(crash_input)], Store(tmp_path / "local"))
    store = Store(tmp_path / "ray")
    result = crashing_ingest(crash_input, store, tmp_path / "died", always=False)
    assert (tmp_path / "died").exists()  # a worker did die
    assert result.totals == local.totals
    assert without_run(store.read()).equals(without_run(Store(tmp_path / "local").read()))


def test_a_worker_that_always_dies_fails_the_run_and_leaves_the_store_as_it_was(
    tmp_path: Path, crash_input: Path
) -> None:
    store = Store(tmp_path / "s")
    first = ingest([str(crash_input)], store)
    before = store.read()
    more = crash_input.with_name("more.jsonl")
    more.write_bytes(b"\n".join(generated_lines(400, seed=5)) + b"\n")
    with pytest.raises(CotlensError, match="the Ray engine failed"):
        crashing_ingest(more, store, tmp_path / "died", always=True)
    assert store.read().equals(before)
    assert first.totals["added"] == before.num_rows
    assert [p for p in (store.root / STAGING).rglob("*") if p.is_file()] == []


def test_unknown_engine_is_a_usage_error(tmp_path: Path) -> None:
    result = run("rates", "--store", str(tmp_path), "--engine", "spark")
    assert result.exit_code == 2
    assert "cotlens: usage error: --engine 'spark': choose one of local, ray" in result.stderr


def test_missing_ray_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_jsonl(tmp_path / "a.jsonl", [chat(1)])
    monkeypatch.setattr(cotlens.runtime.ray_engine, "ray", None)
    result = run("ingest", str(tmp_path / "a.jsonl"), "--store", str(tmp_path / "s"), "--engine", "ray")
    assert result.exit_code == 1
    assert result.stderr.strip() == "cotlens: error: the Ray engine needs Ray: pip install 'cotlens[ray]'"


def test_an_unreachable_cluster_is_one_line_at_once(tmp_path: Path) -> None:
    ingest([str(write_jsonl(tmp_path / "a.jsonl", [chat(1)]))], Store(tmp_path / "s"))
    args = ["rates", "--term", "wait", "--store", str(tmp_path / "s"), "--engine", "ray"]
    done = subprocess.run(
        [sys.executable, "-m", "cotlens", *args, "--ray-address", "127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("cotlens: error: could not reach the Ray cluster at 127.0.0.1:1: ")
    assert done.stderr.count("\n") == 1


def test_importing_the_cli_does_not_import_ray() -> None:
    code = "import sys, cotlens.cli, cotlens.runtime.launch, cotlens.runtime.workers; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


class Listener:
    """A local server that answers each connection with `answer` (None: never answers), in a thread."""

    def __init__(self, answer: bytes | None) -> None:
        import socket
        import threading

        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            if self.answer is not None:
                connection.sendall(self.answer)
                connection.close()

    def close(self) -> None:
        self.server.close()


# A server's first HTTP/2 frame: an empty SETTINGS frame (length 0, type 4, no flags, stream 0).
SETTINGS_FRAME = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def test_an_address_that_is_not_a_ray_head_is_said_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A web server (or the dashboard's port) at --ray-address had Ray wait 36 s per attempt, 20 attempts, logging
    each; something that never answers is given CONNECT_SECONDS; a head (gRPC) answers with HTTP/2 SETTINGS."""
    from cotlens.runtime.ray_engine import _unreachable

    monkeypatch.setattr(cotlens.runtime.ray_engine, "CONNECT_SECONDS", 0.5)
    web, silent, head = (
        Listener(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
        Listener(None),
        Listener(SETTINGS_FRAME),
    )
    try:
        said = "something answers there, but not as a Ray cluster's head (give its GCS port: 6379 by default)"
        assert _unreachable(web.address) == said
        assert _unreachable(silent.address) == "timed out"
        assert _unreachable(head.address) is None
        assert _unreachable("127.0.0.1:99999") == "99999 is not a port (1 to 65535)"
        for address in ("local", "auto", "ray://h:10001", "garbage"):
            assert _unreachable(address) is None  # Ray's to resolve (and to refuse)
        ingest([str(write_jsonl(tmp_path / "a.jsonl", [chat(1)]))], Store(tmp_path / "s"))
        args = ["rates", "--term", "wait", "--store", str(tmp_path / "s"), "--engine", "ray"]
        args += ["--ray-address", web.address]
        done = subprocess.run(
            [sys.executable, "-m", "cotlens", *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1
        assert done.stderr == f"cotlens: error: could not reach the Ray cluster at {web.address}: {said}\n"
    finally:
        for listener in (web, silent, head):
            listener.close()


def test_connecting_keeps_sigterm_and_says_rays_reason_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """ray.init sets a SIGTERM handler that exits with 15 (a Ray ingest killed so printed Ray's stack dump, and
    not `cotlens: interrupted`): cotlens' own is put back. Ray's core logs every failed attempt to reach a head
    on file descriptor 2: held aside, its last reason goes into the one error line; the attempts are bounded."""
    import signal
    import types

    def own(signum: int, frame: Any) -> None: ...

    seen: dict[str, Any] = {}

    def init(address: str, **options: Any) -> None:
        seen["tries"] = os.environ.get("RAY_gcs_server_port_wait_time_s")  # noqa: SIM112 (Ray's name)
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))
        os.write(2, b"[W gcs_client.cc:210] Failed to get cluster ID from GCS server: RpcError: status 404\n")
        raise ConnectionError(f"Failed to connect to Ray cluster at {address}")

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=init)
    monkeypatch.setattr(cotlens.runtime.ray_engine, "ray", fake)
    monkeypatch.delenv("RAY_gcs_server_port_wait_time_s", raising=False)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    previous = signal.signal(signal.SIGTERM, own)
    head = Listener(SETTINGS_FRAME)
    try:
        with pytest.raises(CotlensError) as failed:
            cotlens.runtime.ray_engine.start(head.address)
        assert signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, previous)
        head.close()
    assert str(failed.value) == (
        f"could not start or reach the Ray cluster at {head.address}: Failed to connect to Ray cluster at "
        f"{head.address} (RpcError: status 404); a cluster with token authentication also needs "
        "RAY_AUTH_MODE=token and its token"
    )
    assert seen["tries"] == "5" and "RAY_gcs_server_port_wait_time_s" not in os.environ


def test_a_broken_ray_says_why(tmp_path: Path) -> None:
    """Ray installed but failing to import (a missing dependency) was an unexpected failure."""
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "__init__.py").write_text(
        "raise RuntimeError('libgrpc.so: cannot open shared object file')"
    )
    args = ["rates", "--term", "wait", "--store", str(tmp_path / "s"), "--engine", "ray"]
    ingest([str(write_jsonl(tmp_path / "a.jsonl", [chat(1)]))], Store(tmp_path / "s"))
    environment = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-m", "cotlens", *args], capture_output=True, text=True, timeout=60, env=environment
    )
    assert done.returncode == 1
    assert done.stderr == (
        "cotlens: error: the Ray engine needs Ray: pip install 'cotlens[ray]' (importing it failed: libgrpc.so: "
        "cannot open shared object file)\n"
    )


def test_an_unknown_engine_from_the_environment_is_named_so(tmp_path: Path) -> None:
    """COTLENS_ENGINE=RAY was said as `--engine 'RAY'`, an option the command line does not have."""
    for options, said in (
        ([], "COTLENS_ENGINE 'RAY'"),
        (["--engine", " ray"], "--engine ' ray'"),  # the option, when given, wins over the variable
    ):
        args = ["kwic", "wait", "--store", str(tmp_path), *options]
        result = runner.invoke(app, args, env={"COTLENS_ENGINE": "RAY"})
        assert result.exit_code == 2
        assert result.stderr == (
            f"cotlens: usage error: {said}: choose one of local, ray (see 'cotlens kwic --help')\n"
        )


def test_relative_store_paths_reach_workers_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ray_started: None
) -> None:
    """Ray's workers need not share the driver's working directory (a cluster started elsewhere, as the README's
    `ray start` recipe does; here, a Ray started before the chdir): the part files and staged chunks they are
    handed are absolute paths. A relative --store failed with `No such file or directory: 'rel/transcripts/...'`."""
    monkeypatch.chdir(tmp_path)
    demo = [str(p) for p in sorted(DEMO.glob("*.jsonl"))]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("cotlens.sources.BLOCK_BYTES", 64 << 10)  # several chunks, so the workers stage them
        result = run("ingest", *demo, "--store", "rel", "--engine", "ray", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["added"] == 240
    assert Store("rel").part_files() == sorted(Path("rel/transcripts").glob("*/*.parquet"))
    args = ["rates", "--term", "wait", "--store", "rel", "--format", "json"]
    remote, local = run(*args, "--engine", "ray"), run(*args)
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout
    # A Store itself sent to the workers (the report's tasks) names its folder absolutely too.
    result = run(
        "report", "plain-7b", "--store", "rel", "--engine", "ray", "--out", "r.html", "--examples", "0"
    )
    assert result.exit_code == 0, result.output
    assert pickle.loads(pickle.dumps(Store("rel"))).root == tmp_path / "rel"
