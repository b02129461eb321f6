"""Inputs and stores on object storage (s3://), against a local S3 service (moto's server: conftest.py): the same
store content and the same analyses as with local paths, a commit that a failure leaves unseen, one-line errors.
gs:// goes through the same code (pyarrow's GCS filesystem); no GCS service runs offline, so it is not run here."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from typer.testing import CliRunner

from cotlens import location
from cotlens.cli import app
from cotlens.escape import printable
from cotlens.object_store import ObjectStore
from cotlens.runtime.engine import use_engine
from cotlens.store import Store
from tests.conftest import DEMO, FORMATS, ObjectStorage
from tests.runtime.test_ray_engine import ray_started  # noqa: F401 (a fixture: Ray once per test run)

runner = CliRunner()
DEMO_FILES = sorted(DEMO.glob("*.jsonl"))
# What differs between two ingests of the same records: where they were read from, and the run.
PROVENANCE = ["source_path", "ingest_run"]


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def content(store: Store) -> pa.Table:
    """A store's transcripts without provenance, in id order."""
    table = store.read()
    return table.drop_columns(PROVENANCE).sort_by("transcript_id")


def mask(document: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(document)
    loaded.pop("store_fingerprint")
    return loaded


@pytest.fixture(scope="module")
def local_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The demo corpus ingested from local paths: what every ingest from object storage is compared with."""
    store = Store(tmp_path_factory.mktemp("local") / "store")
    result = run("ingest", *map(str, DEMO_FILES), "--store", str(store.root))
    assert result.exit_code == 0, result.output
    return store


# ---- URIs


def test_uri_parts_keep_options_and_hide_credentials() -> None:
    uri = "s3://KEY:SE%2FCRET@bucket/a/b/?endpoint_override=h:9000&scheme=http"
    assert location.is_uri(uri) and location.is_uri("gs://b/x") and not location.is_uri("s3:/b/x")
    assert not location.is_uri("./s3://b")  # a local folder named so
    assert location.split(uri) == (
        "s3://KEY:SE%2FCRET@",
        "bucket/a/b",
        "endpoint_override=h:9000&scheme=http",
    )
    assert location.join(uri, "manifest.json") == (
        "s3://KEY:SE%2FCRET@bucket/a/b/manifest.json?endpoint_override=h:9000&scheme=http"
    )
    assert (
        location.with_path(uri, "bucket/c")
        == "s3://KEY:SE%2FCRET@bucket/c?endpoint_override=h:9000&scheme=http"
    )
    assert location.shown(uri) == "s3://bucket/a/b"
    assert location.is_pattern("s3://b/x/*.jsonl") and not location.is_pattern("s3://b/x/y.jsonl?scheme=http")


@pytest.mark.parametrize(
    ("uri", "error", "said"),
    [
        (
            "s3://b/x",
            pa.ArrowNotImplementedError("Got S3 URI but Arrow compiled without S3 support"),
            "this pyarrow cannot read s3:// (built without S3 support): install the pyarrow wheel from PyPI",
        ),
        (
            "gs://b/x",
            pa.ArrowNotImplementedError("Got GCS URI but Arrow compiled without GCS support"),
            "this pyarrow cannot read gs:// (built without GCS support): install the pyarrow wheel from PyPI",
        ),
        (
            "gs://b/x",
            OSError(
                "google::cloud::Status(PERMISSION_DENIED: Permission 'storage.objects.get' denied)\nmore"
            ),
            "access denied (google::cloud::Status(PERMISSION_DENIED: Permission 'storage.objects.get' denied)): "
            "check the credentials (GOOGLE_APPLICATION_CREDENTIALS, or gcloud's application default)",
        ),
        (
            "s3://b/x",
            OSError(
                "AWS Error NO_SUCH_BUCKET during HeadObject operation: The specified bucket does not exist"
            ),
            "no such bucket: b",
        ),
        (
            "s3://b/x",
            OSError("AWS Error UNKNOWN (HTTP status 400) during X (Request ID: ABC123)\nsecond line"),
            "AWS Error UNKNOWN (HTTP status 400) during X",
        ),
        (
            "s3://AKIAEXAMPLE1:se%2Fcret-key@b/x?scheme=ftp",
            ValueError(
                "Invalid S3 connection scheme 'ftp' in s3://AKIAEXAMPLE1:se%2Fcret-key@b/x (key se/cret-key)"
            ),
            "Invalid S3 connection scheme 'ftp' in s3://***@b/x (key ***)",
        ),
        (  # the query's secrets too: this went into ingest's JSON summary
            "s3://b\x1bkt/x?session_token=SECRET99",
            ValueError("Cannot parse URI: 's3://b\x1bkt?session_token=SECRET99' due to syntax error"),
            "Cannot parse URI: 's3://b\x1bkt?session_token=***' due to syntax error",
        ),
    ],
)
def test_failures_are_one_line(uri: str, error: BaseException, said: str) -> None:
    assert location.failure(uri, error) == said


def test_google_cloud_storage_without_credentials_or_network() -> None:
    """What pyarrow's GCS filesystem says after its retries (no credentials found: no request sent), cut to the
    point; and its retries are bounded unless the URI sets its own limit (they run for minutes otherwise)."""
    said = OSError(
        "google::cloud::Status(UNAVAILABLE: Retry policy exhausted, with a last message of Could not create a OAuth2 "
        "access token to authenticate the request. The request was not sent. Learn more about Google Cloud "
        "authentication at https://cloud.google.com/docs/authentication. The underlying error message was: "
        "PerformWork() - CURL error [6]=Could not resolve hostname error_info={reason=, domain=, metadata={}})"
    )
    assert location.failure("gs://b/x", said) == (
        "no credentials (google::cloud::Status(UNAVAILABLE: Retry policy exhausted, with a last message of Could "
        "not create a OAuth2 access token to authenticate the request. The request was not sent): check the "
        "credentials (GOOGLE_APPLICATION_CREDENTIALS, or gcloud's application default)"
    )
    limits = [
        location.filesystem(uri)[0].__reduce__()[1][0]["retry_time_limit"]
        for uri in ("gs://b/x", "gs://c/x?retry_limit_seconds=3")
    ]
    assert [limit.total_seconds() for limit in limits] == [location.GCS_RETRY_SECONDS, 3]
    assert len(location.failure("s3://b/x", OSError("x" * 1000))) == location.DETAIL_CHARACTERS


# ---- Inputs


def test_ingest_from_object_storage_equals_a_local_ingest(
    object_storage: ObjectStorage, local_store: Store, tmp_path: Path
) -> None:
    """A pattern over compressed objects (zstd, gzip, none), and a prefix, read as the local files are."""
    bucket = object_storage.bucket("inputs")
    packed = {
        "lumen-mix.jsonl.zst": zstandard.ZstdCompressor().compress(DEMO_FILES[0].read_bytes()),
        "orion-3.jsonl.gz": gzip.compress(DEMO_FILES[1].read_bytes()),
        "plain-7b.jsonl": DEMO_FILES[2].read_bytes(),
        ".hidden.jsonl": b"not read",
        "notes.txt": b"not an input",
    }
    for name, data in packed.items():
        object_storage.put(f"{bucket}/demo/{name}", data)
    pattern = tmp_path / "pattern"
    result = run("ingest", object_storage.uri(f"{bucket}/demo/*.jsonl*"), "--store", str(pattern), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [s["path"] for s in summary["inputs"]] == [
        f"s3://{bucket}/demo/lumen-mix.jsonl.zst",
        f"s3://{bucket}/demo/orion-3.jsonl.gz",
        f"s3://{bucket}/demo/plain-7b.jsonl",
    ]
    assert summary["totals"] == {
        "records": 242,
        "rejected": 2,
        "transcripts": 240,
        "added": 240,
        "duplicate": 0,
    }
    assert content(Store(pattern)).equals(content(local_store))
    assert set(Store(pattern).read(["source_path"])["source_path"].to_pylist()) == {
        s["path"] for s in summary["inputs"]
    }
    assert object_storage.key not in result.output and object_storage.secret not in result.output

    prefix = tmp_path / "prefix"
    result = run("ingest", object_storage.uri(f"{bucket}/demo/"), "--store", str(prefix), "--json")
    assert result.exit_code == 0, result.output
    assert [s["path"].rsplit("/", 1)[1] for s in json.loads(result.stdout)["inputs"]] == [
        "lumen-mix.jsonl.zst",
        "orion-3.jsonl.gz",
        "plain-7b.jsonl",
    ]
    assert content(Store(prefix)).equals(content(local_store))


def test_every_input_shape_from_object_storage(object_storage: ObjectStorage, tmp_path: Path) -> None:
    """The formats' fixtures (JSON Lines, JSON documents, an Inspect .eval zip, gzip and zstd) as a prefix: the
    same inputs, records, rejects and transcripts as the local folder."""
    bucket = object_storage.bucket("formats")
    for path in sorted(FORMATS.iterdir()):
        object_storage.put(f"{bucket}/formats/{path.name}", path.read_bytes())
    local = run("ingest", str(FORMATS), "--store", str(tmp_path / "local"), "--json")
    remote = run(
        "ingest", object_storage.uri(f"{bucket}/formats"), "--store", str(tmp_path / "remote"), "--json"
    )
    assert remote.exit_code == local.exit_code
    inputs = [json.loads(r.stdout)["inputs"] for r in (local, remote)]
    for summary in inputs:
        for entry in summary:
            entry["path"] = entry["path"].rsplit("/", 1)[1]
    assert inputs[0] == inputs[1] and len(inputs[0]) >= 15
    assert "inspect.eval" in [entry["path"] for entry in inputs[1]]
    assert content(Store(tmp_path / "remote")).equals(content(Store(tmp_path / "local")))


def test_parquet_input_from_object_storage(
    object_storage: ObjectStorage, local_store: Store, tmp_path: Path
) -> None:
    """A table is read at offsets (its footer first), not downloaded whole; a store's prefix is read for its parts."""
    bucket = object_storage.bucket("tables")
    [part] = local_store.part_files()
    object_storage.put(f"{bucket}/export/part.parquet", part.read_bytes())
    copy = tmp_path / "copy"
    result = run("ingest", object_storage.uri(f"{bucket}/export/part.parquet"), "--store", str(copy))
    assert result.exit_code == 0, result.output
    assert (
        content(Store(copy))
        .drop_columns(["source_locator", "format"])
        .equals(content(local_store).drop_columns(["source_locator", "format"]))
    )


# ---- Stores


def test_store_on_object_storage_answers_as_a_local_one(
    object_storage: ObjectStorage, local_store: Store, tmp_path: Path
) -> None:
    bucket = object_storage.bucket("stores")
    uri = object_storage.uri(f"{bucket}/corpus")
    result = run("ingest", *map(str, DEMO_FILES), "--store", uri, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["store"] == f"s3://{bucket}/corpus" and summary["totals"]["added"] == 240
    run_id = summary["run_id"]
    assert object_storage.names(f"{bucket}/corpus") == [
        "manifest.json",
        f"rejects/{run_id}.jsonl",
        f"transcripts/{run_id}/part-00000.parquet",
    ]
    store = Store(uri)
    assert isinstance(store, ObjectStore) and content(store).equals(content(local_store))
    for command in (["rates"], ["compare", "orion-3", "lumen-mix"], ["langmix"], ["models"]):
        remote = run(*command, "--store", uri, "--format", "json")
        local = run(*command, "--store", str(local_store.root), "--format", "json")
        assert remote.exit_code == 0, remote.output
        assert mask(remote.stdout) == mask(local.stdout), command
    assert object_storage.secret not in json.dumps(store.manifest())

    again = run("ingest", *map(str, DEMO_FILES), "--store", uri, "--json")
    assert (
        json.loads(again.stdout)["totals"]["added"] == 0
    )  # the stored ids are read back from object storage


def test_a_store_named_by_an_object_is_refused(object_storage: ObjectStorage) -> None:
    """As a local --store that is a file: ingest made its store's objects `plain.jsonl/manifest.json`... beside it."""
    bucket = object_storage.bucket("objects")
    object_storage.put(f"{bucket}/plain.jsonl", DEMO_FILES[2].read_bytes())
    result = run("ingest", str(DEMO_FILES[0]), "--store", object_storage.uri(f"{bucket}/plain.jsonl"))
    assert result.exit_code == 1
    assert result.stderr == (
        f"cotlens: error: s3://{bucket}/plain.jsonl is an object, not a store prefix: point --store at a prefix\n"
    )
    assert object_storage.names(bucket) == ["plain.jsonl"]


def test_measuring_a_store_on_object_storage(object_storage: ObjectStorage, local_store: Store) -> None:
    """ingest --defer-measure, then the first analysis measures the parts in place (each replaced whole)."""
    bucket = object_storage.bucket("deferred")
    uri = object_storage.uri(f"{bucket}/store")
    assert run("ingest", *map(str, DEMO_FILES), "--store", uri, "--defer-measure").exit_code == 0
    result = run("rates", "--store", uri, "--format", "json")
    assert result.exit_code == 0, result.output
    assert "measuring 1 part file(s)" in result.stderr
    local = run("rates", "--store", str(local_store.root), "--format", "json")
    assert mask(result.stdout) == mask(local.stdout)
    assert [n for n in object_storage.names(f"{bucket}/store") if "measuring" in n] == []
    assert (
        content(Store(uri))
        .drop_columns(["measured_by"])
        .equals(content(local_store).drop_columns(["measured_by"]))
    )


def test_readers_trust_only_the_manifest(
    object_storage: ObjectStorage, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A run that fails before its manifest is written leaves the store as it was: its objects are deleted, and
    objects no manifest names (a crash's leftovers) are never read."""
    bucket = object_storage.bucket("crashes")
    uri = object_storage.uri(f"{bucket}/store")
    assert run("ingest", str(DEMO_FILES[0]), "--store", uri).exit_code == 0
    store = Store(uri)
    before, parts = store.manifest_data(), store.parts()
    [part] = store.parts()
    stray = part.replace("/part-00000.parquet", "-crashed/part-00000.parquet")
    object_storage.put(location.split(stray)[1], pq.read_metadata(part).num_rows.to_bytes(4, "little"))

    real_put = ObjectStore.put

    def failing_put(self: ObjectStore, name: str, data: bytes) -> None:
        if name == "manifest.json":
            raise OSError(
                "AWS Error NETWORK_CONNECTION during PutObject operation: curlCode: 7, Could not connect"
            )
        real_put(self, name, data)

    monkeypatch.setattr(ObjectStore, "put", failing_put)
    result = run("ingest", str(DEMO_FILES[1]), "--store", uri)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"cotlens: error: cannot write in s3://{bucket}/store: cannot reach the object store (AWS Error "
        "NETWORK_CONNECTION during PutObject operation: curlCode: 7, Could not connect); the store is unchanged"
    )
    monkeypatch.undo()
    assert store.manifest_data() == before and store.parts() == parts
    run_dirs = {
        n.split("/")[1] for n in object_storage.names(f"{bucket}/store") if n.startswith("transcripts/")
    }
    assert len(run_dirs) == 2  # the first run's, and the stray one; nothing of the failed run
    models = run("models", "--store", uri, "--format", "json")
    assert models.exit_code == 0 and [r["model"] for r in json.loads(models.stdout)["rows"]] == ["lumen-mix"]
    # The store named as an input: its parts, as the manifest names them (not the stray object).
    read_back = run("ingest", uri, "--store", str(tmp_path / "copy"), "--json")
    assert read_back.exit_code == 0, read_back.output
    assert [s["path"] for s in json.loads(read_back.stdout)["inputs"]] == [location.shown(part)]


# ---- Errors: one line, naming the path


@pytest.mark.parametrize(
    ("uri", "shown", "said"),
    [
        ("s3://", "s3://", "no bucket in the URI (write s3://BUCKET/KEY)"),
        ("s3:///key.jsonl", "s3:///key.jsonl", "no bucket in the URI (write s3://BUCKET/KEY)"),
        ("gs://K:S@/k?scheme=http", "gs:///k", "no bucket in the URI (write gs://BUCKET/KEY)"),
        (
            "s3://b/../x.jsonl",
            "s3://b/../x.jsonl",
            "'.' and '..' are not resolved in an object's name: write the name without them",
        ),
        ("GS://b/a/./x", "gs://b/a/./x", "'.' and '..' are not resolved"),
    ],
)
def test_uris_that_name_no_object(tmp_path: Path, uri: str, shown: str, said: str) -> None:
    """Said at once, before any request: a URI without a bucket was looked up with its key as the bucket, over
    the network (6 s here) and shown so (`s3:///key` as `s3://key`)."""
    result = run("ingest", uri, "--store", str(tmp_path / "s"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(f"cotlens: error: {shown}: cannot open: {said}")
    result = run("models", "--store", uri)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"cotlens: error: cannot read the store {shown}: {said}")
    assert "K:S" not in result.stderr


def test_scheme_in_any_case_and_sniff_without_credentials(object_storage: ObjectStorage) -> None:
    """`S3://` is s3:// (it was said to need a pyarrow built with S3); sniff names its inputs without the
    credentials and options the URI carries (it printed them in its table, its JSON and --emit-map)."""
    bucket = object_storage.bucket("sniffed")
    object_storage.put(f"{bucket}/in/plain.jsonl", DEMO_FILES[2].read_bytes())
    uri = object_storage.uri(f"{bucket}/in/*.jsonl")
    for args in (["--format", "json"], ["--format", "table"], ["--emit-map"]):
        result = run("sniff", "S3" + uri[2:], *args)
        assert result.exit_code == 0, result.output
        assert f"s3://{bucket}/in/plain.jsonl" in result.stdout
        for secret in (object_storage.key, object_storage.secret, object_storage.endpoint):
            assert secret not in result.output
    assert [row["input"] for row in json.loads(run("sniff", uri, "--format", "json").stdout)["rows"]] == [
        f"s3://{bucket}/in/plain.jsonl"
    ]


def test_errors_name_the_path_in_one_line(object_storage: ObjectStorage, tmp_path: Path) -> None:
    bucket = object_storage.bucket("errors")
    object_storage.put(f"{bucket}/in.jsonl", DEMO_FILES[0].read_bytes())
    store = str(tmp_path / "store")
    cases = {
        object_storage.uri("no-such-bucket/in.jsonl"): "cannot open: no such bucket: no-such-bucket",
        object_storage.uri(f"{bucket}/missing.jsonl"): "cannot open: no such object",
        object_storage.uri(f"{bucket}/*.parquet"): "no object matches this pattern",
        object_storage.uri("no-such-bucket/*.jsonl"): "no such bucket: no-such-bucket",
        object_storage.uri(f"{bucket}/*.jsonl", key="WRONG", secret="wrong"): "cannot list: access denied",
        object_storage.uri(f"{bucket}/in.jsonl", key="WRONG", secret="wrong"): "cannot open: access denied",
        # A terminal escape in the name (without "[", which would make it a pattern).
        object_storage.uri(f"{bucket}/\x1b]8;;x\x07red.jsonl"): "cannot open: no such object",
    }
    for uri, said in cases.items():
        result = run("ingest", uri, "--store", store)
        assert result.exit_code == 1, result.output
        [line] = [line for line in result.stderr.splitlines() if line.startswith("cotlens: error:")]
        assert line.startswith(f"cotlens: error: {printable(location.shown(uri))}: {said}"), line
        assert "\x1b" not in result.stderr and object_storage.secret not in result.stderr

    # Nothing could be read into a new store on object storage: no store is made there (no object written).
    result = run(
        "ingest",
        object_storage.uri(f"{bucket}/missing.jsonl"),
        "--store",
        object_storage.uri(f"{bucket}/new"),
    )
    assert result.exit_code == 1
    assert f"no store was created at s3://{bucket}/new\n" in result.stderr
    assert object_storage.names(f"{bucket}/new") == [] and object_storage.secret not in result.stderr

    # No network: a port where nothing listens. Tried once (the SDK's default tries 3 times over about 6 s).
    import pyarrow.fs as pafs

    nowhere = pafs.S3FileSystem(
        access_key="k",
        secret_key="s",
        endpoint_override="127.0.0.1:9",
        scheme="http",
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(location, "_filesystem", lambda root: nowhere)
        result = run("models", "--store", "s3://b/store")
        reading = run("ingest", "s3://b/in.jsonl", "--store", store)
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(
        "cotlens: error: cannot read the store s3://b/store: cannot reach the object store (When reading information "
        "for key 'store/manifest.json' in bucket 'b': AWS Error NETWORK_CONNECTION during HeadObject operation"
    ), result.stderr
    assert "cotlens: error: s3://b/in.jsonl: cannot open: cannot reach the object store (" in reading.stderr

    for uri, said in (
        (object_storage.uri(f"{bucket}/nothing-here"), f"no cotlens store at s3://{bucket}/nothing-here"),
        (
            object_storage.uri("no-such-bucket/store"),
            "cannot read the store s3://no-such-bucket/store: no such bucket",
        ),
        (
            object_storage.uri(f"{bucket}/store", key="WRONG"),
            f"cannot read the store s3://{bucket}/store: access denied",
        ),
    ):
        result = run("rates", "--store", uri)
        assert result.exit_code == 1 and result.stderr.startswith(f"cotlens: error: {said}"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_object_store_is_asked_once_per_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that fails for want of a network (or of credentials) makes every later request of the command
    fail at once: gs:// without credentials spent 20 s per request, and an ingest of one object made five (101 s);
    refused credentials are not remembered (a policy may allow one object and not another)."""
    import pyarrow.fs as pafs

    made: list[str] = []

    def nowhere(root: str) -> pafs.FileSystem:
        made.append(root)
        return pafs.S3FileSystem(
            access_key="k",
            secret_key="s",
            endpoint_override="127.0.0.1:9",
            scheme="http",
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
        )

    monkeypatch.setattr(location, "_filesystem", nowhere)
    for _ in range(2):  # each command asks again
        result = run("ingest", "s3://b/x.jsonl", "s3://b/y.jsonl", "--store", str(tmp_path / "s"))
        assert result.exit_code == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("cotlens: error:")]
        assert [line.partition(": cannot open: cannot reach the object store (")[0] for line in errors] == [
            "cotlens: error: s3://b/x.jsonl",
            "cotlens: error: s3://b/y.jsonl",
        ]
    assert made == ["s3://b", "s3://b"]

    for said, remembered in (
        ("AWS Error ACCESS_DENIED during GetObject", {}),
        ("curlCode: 7", {"s3://c?scheme=http": "cannot reach the object store (curlCode: 7)"}),
    ):
        location.forget_failures()
        with pytest.raises(OSError), location.attempt("s3://c/k?scheme=http"):
            raise OSError(said)
        assert {root: why for root, (why, _) in location._unusable.items()} == remembered
    with pytest.raises(location.ObjectStorageError, match=r"^cannot reach the object store \(curlCode: 7\)$"):
        location.filesystem("s3://c/other?scheme=http")

    # A filesystem that cannot be made (a bucket's region that cannot be asked): asked once too.
    def refused(root: str) -> pafs.FileSystem:
        made.append(root)
        raise location.ObjectStorageError("cannot reach the object store (no region)")

    with monkeypatch.context() as patch:
        patch.setattr(location, "_filesystem", refused)
        for _ in range(3):
            with pytest.raises(
                location.ObjectStorageError, match=r"^cannot reach the object store \(no region\)$"
            ):
                location.filesystem("s3://d/k")
    assert made[-2:] == ["s3://b", "s3://d"]
    # A process that outlives commands (a Ray cluster's worker) asks again after a while.
    monkeypatch.setattr(location, "REMEMBERED_SECONDS", 0)
    assert location.filesystem("s3://c/other?scheme=http")[1] == "c/other"
    assert made[-1] == "s3://c?scheme=http"
    location.forget_failures()


@pytest.mark.usefixtures("ray_started")
def test_ray_workers_stage_their_rows_in_the_store(object_storage: ObjectStorage, local_store: Store) -> None:
    """Under --engine ray the workers (maybe other machines) write their parsed rows into the store's staging
    prefix; the store is the local engine's all the same, and the staging is gone after the run."""
    bucket = object_storage.bucket("ray")
    uri = object_storage.uri(f"{bucket}/store")
    with use_engine("ray"), Store(uri).writer({}) as writer:
        assert writer.staging_path(3) == location.join(uri, ".staging", writer.run_id, "chunk-000003.arrow")
    with Store(uri).writer({}) as writer:
        assert not location.is_uri(writer.staging_path(3))  # the local engine stages here
    result = run("ingest", *map(str, DEMO_FILES), "--store", uri, "--engine", "ray", "--json")
    assert result.exit_code == 0, result.output
    assert content(Store(uri)).equals(content(local_store))
    names = object_storage.names(f"{bucket}/store")
    assert not [n for n in names if n.startswith(".staging")] and len(names) == 3


def test_parts_that_cannot_be_read(object_storage: ObjectStorage) -> None:
    """Credentials that may read the manifest but not the parts: the store cannot be read, said as such; a part
    the manifest names but that is gone: that part is named."""
    import boto3

    bucket = object_storage.bucket("partial")
    uri = object_storage.uri(f"{bucket}/store")
    assert run("ingest", str(DEMO_FILES[0]), "--store", uri).exit_code == 0
    iam = boto3.client(
        "iam",
        endpoint_url=f"http://{object_storage.endpoint}",
        region_name="us-east-1",
        aws_access_key_id=object_storage.key,
        aws_secret_access_key=object_storage.secret,
    )
    iam.create_user(UserName="manifest-reader")
    reader = iam.create_access_key(UserName="manifest-reader")["AccessKey"]
    manifest_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/store/manifest.json",
            }
        ],
    }
    iam.put_user_policy(
        UserName="manifest-reader", PolicyName="manifest", PolicyDocument=json.dumps(manifest_only)
    )
    limited = object_storage.uri(
        f"{bucket}/store", key=reader["AccessKeyId"], secret=reader["SecretAccessKey"]
    )
    result = run("rates", "--store", limited, "--format", "json")
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(
        f"cotlens: error: cannot read the store s3://{bucket}/store: access denied ("
    )

    [part] = Store(uri).parts()
    filesystem, key = location.filesystem(part)
    filesystem.delete_file(key)
    result = run("rates", "--store", uri, "--format", "json")
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr == (
        f"cotlens: error: part file {location.shown(part)} is missing: remove its run from manifest.json to read the "
        "rest (readers read the parts the manifest names)\n"
    )
