from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import regex
from typer.testing import CliRunner

from cotlens.store import Store

# Caches (the folding tables) go to a directory of this test run, not the user's; set before any worker starts.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="cotlens-test-cache-")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FORMATS = FIXTURES / "formats"
DEMO = FIXTURES / "demo"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


# One voice: a command that fails says so on one line with the prefix of its exit code, never with a traceback or
# an exception's name. Every CLI invocation of the test suite is checked.
PREFIX_BY_CODE = {1: "cotlens: error: ", 2: "cotlens: usage error: "}
EXCEPTION_NAME = regex.compile(r"Traceback|\b[A-Z]\w*(?:Error|Exception)\b|\bKeyError\b")


def check_voice(result: object) -> None:
    code = getattr(result, "exit_code", 0)
    stderr = getattr(result, "stderr", "")
    exception = getattr(result, "exception", None)
    assert exception is None or isinstance(exception, SystemExit), f"uncaught {exception!r}"
    assert not EXCEPTION_NAME.search(stderr), f"an exception's name on stderr: {stderr!r}"
    if code in PREFIX_BY_CODE:
        lines = stderr.splitlines()
        assert any(line.startswith(PREFIX_BY_CODE[code]) for line in lines), f"exit {code}: {stderr!r}"
        assert not any("╭" in line for line in lines), f"a boxed error: {stderr!r}"


@pytest.fixture(autouse=True)
def one_voice(monkeypatch: pytest.MonkeyPatch) -> None:
    invoke = CliRunner.invoke

    def checked(self: CliRunner, *args: object, **kwargs: object) -> object:
        result = invoke(self, *args, **kwargs)  # type: ignore[arg-type]
        check_voice(result)
        return result

    monkeypatch.setattr(CliRunner, "invoke", checked)


@dataclass(frozen=True)
class ObjectStorage:
    """A local S3 service (moto's server) for the tests of s3:// inputs and stores: no cloud, the real protocol.
    Requests are signed and checked, so wrong credentials are refused as S3 refuses them."""

    endpoint: str
    key: str
    secret: str

    def uri(self, path: str, key: str | None = None, secret: str | None = None) -> str:
        """s3://<credentials>@<path>?<endpoint>: credentials in the user info reach every process (Ray's too)."""
        user = quote(key or self.key, safe="")
        password = quote(secret or self.secret, safe="")
        return f"s3://{user}:{password}@{path}?endpoint_override={self.endpoint}&scheme=http"

    def bucket(self, name: str) -> str:
        """A new, empty bucket."""
        import pyarrow.fs as pafs

        admin = pafs.S3FileSystem(
            access_key=self.key,
            secret_key=self.secret,
            endpoint_override=self.endpoint,
            scheme="http",
            allow_bucket_creation=True,
        )
        admin.create_dir(name)
        return name

    def put(self, path: str, data: bytes) -> None:
        import pyarrow.fs as pafs

        filesystem, key = pafs.FileSystem.from_uri(self.uri(path))
        with filesystem.open_output_stream(key) as sink:
            sink.write(data)

    def names(self, prefix: str) -> list[str]:
        """Every object under a prefix, relative to it."""
        import pyarrow.fs as pafs

        filesystem, key = pafs.FileSystem.from_uri(self.uri(prefix))
        found = filesystem.get_file_info(pafs.FileSelector(key, recursive=True, allow_not_found=True))
        return sorted(f.path[len(key) + 1 :] for f in found if f.is_file)


@pytest.fixture(scope="session")
def object_storage() -> Iterator[ObjectStorage]:
    """moto's S3 server on a free local port, once per test run, with one user allowed everything."""
    import logging

    import boto3
    import moto.settings
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"{host}:{port}"
    iam = boto3.client(
        "iam",
        endpoint_url=f"http://{endpoint}",
        region_name="us-east-1",
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    iam.create_user(UserName="cotlens")
    created = iam.create_access_key(UserName="cotlens")["AccessKey"]
    everything = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
    )
    iam.put_user_policy(UserName="cotlens", PolicyName="all", PolicyDocument=everything)
    # From here on every request must be signed by a known key (moto checks none by default).
    moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield ObjectStorage(endpoint, created["AccessKeyId"], created["SecretAccessKey"])
    finally:
        moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
        server.stop()


@pytest.fixture(params=["compiled", "numpy"])
def draws_kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test once with each kernel that draws the bootstrap's weights (cotlens.stats._draw_weights): the
    compiled one, then the numpy reference. Only this process: worker processes keep the compiled one."""
    from cotlens import stats

    if request.param == "numpy":
        monkeypatch.setattr(stats, "_compiled_draw_counts", None)
    elif stats._compiled_draw_counts is None:
        pytest.fail("the compiled drawing of weights (cotlens/_resample.c) was not built in this environment")
    return str(request.param)
