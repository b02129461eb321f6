"""The Ray engine against the local one on this machine: ingest and rates with 1 and 2 Ray workers.

    .venv/bin/python bench/bench_ray.py --size-mb 50          # what `make bench-ray` runs

1. The synthetic corpus of bench/corpus.py (cached in --workdir) is the input.
2. Each configuration runs in a subprocess that calls the library as the CLI does, with the same options:
   - local: the local engine with one worker process per core whatever the input size (at the small sizes a
     shared machine allows, the CLI would run in one process: starting workers does not repay below 64 MB of
     input, 32 MB of store), so that it is compared at its full-size speed;
   - ray N: `--engine ray --ray-address` to a Ray head with N CPUs started before the run (and stopped after
     it), as on a cluster: starting Ray (several seconds) is not timed, and is printed apart.
   Ingest: the corpus into a fresh store, every measurement, checked against the local engine's accounting.
   Rates: 50 terms as bench_rates.py counts them (the four built-in lexicons plus four terms, so counted from
   the text) over a store the local engine made, with bootstrap intervals; its JSON is checked byte for byte
   against the local engine's.
3. Throughput is MB of input JSONL (ingest) or of stored reasoning text (rates) per second of the whole
   subprocess. Memory: for Ray, the largest peak RSS (VmHWM) of any Ray worker process, sampled every 0.1 s
   (it includes pages of Ray's shared-memory object store the worker touched); for local, the peak RSS of the
   largest process (wait4's ru_maxrss).
Targets (issue 17): Ray with 2 workers at least 0.7 x the local engine for ingest and for rates; peak memory
per Ray worker under 1 GiB. MB is 10^6 bytes; memory in MiB.

Exit status: 0 whatever the figures; with --check, 1 when a target or a check is missed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench_analyses import ingest_store
from bench_ingest import MB, machine_info, measure, warm_page_cache
from bench_rates import stored_reasoning_mb
from corpus import bench_parser, ensure_corpus

from cotlens.runtime.early import WORKER_ENVIRONMENT

RATIO_TARGET = 0.7
WORKER_TARGET_MB = 1024

RUN_CODE = """
import json, sys, time
import cotlens.ingest, cotlens.scan
from cotlens.runtime.engine import use_engine
from cotlens.escape import json_bytes
from cotlens.store import Store

what, engine, address, source, store = sys.argv[1:]
EXTRA_TERMS = ["let me", "double-check", "okay", "alright"]  # as bench_rates: 50 terms, counted from the text
# Workers whatever the size: the local engine at its full-size speed (see the bench's docstring).
cotlens.ingest.POOL_MIN_BYTES = cotlens.scan.POOL_MIN_BYTES = 0
connect = time.perf_counter()
if engine == "ray":
    from cotlens import ray_engine
    ray_engine.start(address)
start, cpu = time.perf_counter(), time.process_time()
with use_engine(engine, address or None):
    if what == "ingest":
        from cotlens.ingest import ingest
        result = ingest([source], Store(store)).totals
    else:
        from cotlens.lexicon import select_lexicons
        from cotlens.analyses.rates import RateOptions, compute_rates
        from cotlens.scan import Selection
        lexicons = select_lexicons(["o3-dialect", "epistemic", "eval-awareness", "voice"], EXTRA_TERMS)
        result = compute_rates(Store(store), lexicons, Selection(), RateOptions()).to_document()
work, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"connect": start - connect, "work": work, "driver_cpu": cpu}))
sys.stdout.write(json_bytes(result, indent=True).decode())
"""


@dataclass(frozen=True)
class Figure:
    task: str
    engine: str
    seconds: float  # the whole subprocess
    connect: float  # of which: reaching the Ray head (0 for local)
    work: float  # of which: the library call (ingest or compute_rates), workers' start-up included
    driver_cpu: float  # CPU seconds of the driver process during the library call
    mb: float
    memory_mb: float
    output: str

    @property
    def mb_per_s(self) -> float:
        return self.mb / self.work


class WorkerMemory:
    """The largest VmHWM (peak RSS) of any Ray worker process seen while running."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.1)

    def _sample(self) -> None:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                # A worker's command line is default_worker.py's until it runs a task, then ray::<task>.
                command = Path(entry.path, "cmdline").read_bytes()
                if b"default_worker.py" not in command and not command.startswith(
                    (b"ray::IDLE", b"ray::_run")
                ):
                    continue
                for line in Path(entry.path, "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))
            except (OSError, ValueError):
                continue


# A Ray head in a process of its own, as `ray start --head` would make (ray stop would stop every Ray on the
# machine, not only this one): it prints the address drivers connect to, then holds Ray until its stdin closes.
HEAD_CODE = """
import logging, sys, ray
ray.init(address="local", num_cpus=int(sys.argv[1]), include_dashboard=False, logging_level=logging.ERROR)
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""


@contextmanager
def ray_cluster(cpus: int) -> Iterator[tuple[str, float]]:
    """A Ray head on this machine with `cpus` CPUs, its address, and how long it took to start."""
    start = time.perf_counter()
    head = subprocess.Popen(
        [sys.executable, "-c", HEAD_CODE, str(cpus)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **WORKER_ENVIRONMENT},  # as the README's recipe starts a cluster's nodes
    )
    assert head.stdin is not None and head.stdout is not None
    address = head.stdout.readline().strip()
    seconds = time.perf_counter() - start
    try:
        if not address:
            raise SystemExit("benchmark: could not start a Ray head")
        yield address, seconds
    finally:
        head.stdin.close()
        head.wait(60)


def run(task: str, engine: str, address: str, source: Path, store: Path, mb: float) -> Figure:
    argv = [sys.executable, "-c", RUN_CODE, task, engine, address, str(source), str(store)]
    if engine == "local":
        done = measure(argv, tree=False)
        memory = done.peak_rss_mb
    else:
        with WorkerMemory() as workers:
            done = measure(argv, tree=False)
        memory = workers.peak_kib / 1024
    times, output = done.stdout.split("\n", 1)
    took = json.loads(times)
    return Figure(
        task, engine, done.seconds, took["connect"], took["work"], took["driver_cpu"], mb, memory, output
    )


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--workers", default="1,2", help="Ray worker counts to run (comma-separated)")
    args = parser.parse_args()
    # The head and the drivers that connect to it authenticate with Ray's token (~/.ray/auth_token).
    os.environ["RAY_AUTH_MODE"] = "token"
    corpus = ensure_corpus(args.workdir, args.size_mb, args.seed)
    warm_page_cache(corpus.path)
    input_mb = corpus.bytes / MB
    store = ingest_store(corpus.path, args.workdir)
    text_mb = stored_reasoning_mb(store)
    fresh = Path(tempfile.mkdtemp(prefix="ray-ingest-", dir=args.workdir))
    figures: list[Figure] = []
    starts: dict[str, float] = {}
    try:
        for engine, cpus in [("local", 0), *(("ray", int(n)) for n in args.workers.split(","))]:
            name = "local" if engine == "local" else f"ray {cpus} worker{'s' if cpus > 1 else ''}"
            with ray_cluster(cpus) if cpus else _no_cluster() as (address, seconds):
                starts[name] = seconds
                shutil.rmtree(fresh, ignore_errors=True)
                ingest_figure = run("ingest", engine, address, corpus.path, fresh, input_mb)
                rates_figure = run("rates", engine, address, corpus.path, store, text_mb)
            figures += [dataclasses.replace(f, engine=name) for f in (ingest_figure, rates_figure)]
    finally:
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(fresh, ignore_errors=True)
    return report(args, corpus.path, input_mb, text_mb, figures, starts)


@contextmanager
def _no_cluster() -> Iterator[tuple[str, float]]:
    yield "", 0.0


def report(
    args: object,
    corpus: Path,
    input_mb: float,
    text_mb: float,
    figures: list[Figure],
    starts: dict[str, float],
) -> int:
    info = machine_info()
    print(
        f"machine: {info['nproc']} cores, {info['cpu']}; cotlens {info['cotlens']} ({info['cotlens_source']})"
    )
    print(f"corpus:  {corpus} ({input_mb:.1f} MB of JSONL; {text_mb:.1f} MB of stored reasoning text)")
    print("MB/s and 'x local' are of the library call (workers' start-up included); 'process' is the whole")
    print("subprocess, 'connect' reaching the Ray head; 'driver s/MB' the driver's CPU seconds per MB")
    print()
    print(
        f"{'task':<7} {'engine':<14} {'process':>8} {'connect':>8} {'work':>7} {'MB/s':>7} {'x local':>8} "
        f"{'driver s/MB':>12} {'peak MiB':>9}  check"
    )
    local = {f.task: f for f in figures if f.engine == "local"}
    failed = []
    for f in figures:
        ratio = f.mb_per_s / local[f.task].mb_per_s
        same = f.output == local[f.task].output
        print(
            f"{f.task:<7} {f.engine:<14} {f.seconds:>8.2f} {f.connect:>8.2f} {f.work:>7.2f} {f.mb_per_s:>7.1f} "
            f"{ratio:>8.2f} {f.driver_cpu / f.mb:>12.3f} {f.memory_mb:>9.0f}  "
            f"{'same as local' if same else 'DIFFERS from local'}"
        )
        if not same:
            failed.append(f"{f.task} on {f.engine}: output differs from the local engine's")
        if f.engine.startswith("ray 2") and ratio < RATIO_TARGET:
            failed.append(f"{f.task}: ray with 2 workers at {ratio:.2f} x local (target >= {RATIO_TARGET})")
        if f.engine != "local" and f.memory_mb >= WORKER_TARGET_MB:
            failed.append(
                f"{f.task} on {f.engine}: {f.memory_mb:.0f} MiB per worker (target < {WORKER_TARGET_MB})"
            )
    print()
    for name, seconds in starts.items():
        if seconds:
            print(f"starting the Ray head for {name}: {seconds:.1f} s (not timed above)")
    for line in failed:
        print(f"missed: {line}")
    rows = [{k: v for k, v in vars(f).items() if k != "output"} for f in figures]
    print(json.dumps({"size_mb": input_mb, "figures": rows}))
    return 1 if failed and getattr(args, "check", False) else 0


if __name__ == "__main__":
    sys.exit(main())
