"""Paths on object storage (`s3://bucket/key`, `gs://bucket/key`), read and written through pyarrow's filesystems.

A local path never comes here: callers test `is_uri` first, so local files keep their own code (and speed). A URI
may carry pyarrow's options as a query (`s3://bucket/x?endpoint_override=host:9000&scheme=http`) and, for S3,
credentials as user info (`s3://KEY:SECRET@bucket/x`); the standard environment (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_ENDPOINT_URL, GOOGLE_APPLICATION_CREDENTIALS) is read by the filesystems
themselves. `shown` gives a URI without either, for messages, summaries and the store's records.

What goes wrong out there (missing credentials, no such bucket, no network, a pyarrow built without S3 or GCS) is
said in one line by `failure`, never as the cloud SDK's multi-line report.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import posixpath
import re
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import unquote

from cotlens.errors import CotlensError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs

SCHEMES = ("s3", "gs", "gcs")
# Characters that make a URI's last parts a pattern over object names (as a shell's glob, within one name).
GLOB_CHARACTERS = frozenset("*?[")
# Credentials this long or longer are blotted out of messages on their own (real keys have 16 and more).
SECRET_CHARACTERS = 8
# The longest SDK message kept in an error line.
DETAIL_CHARACTERS = 300
# How long Google Cloud Storage requests are retried before an error is said. One request of pyarrow's may spend
# it twice (looking up an object without credentials took 40 s at 20), and what fails so is then remembered
# (attempt): without credentials or a network, a command says so within half a minute.
GCS_RETRY_SECONDS = 10
# Reads from an object go out in requests of this size (one request per read would be one per megabyte).
READ_BUFFER = 8 << 20


def is_uri(path: object) -> bool:
    """Whether a path names object storage (s3://, gs://, gcs://) rather than a local file."""
    return isinstance(path, str) and scheme(path) in SCHEMES


# What a URI starts with (RFC 3986's scheme): a path written so names no local file, whatever its scheme.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def scheme(path: str) -> str | None:
    """The scheme a path starts with (`s3`, `hdfs`, `file`...), in lower case; None for a local path."""
    found = _SCHEME.match(path)
    return found.group(1).lower() if found else None


def unsupported(path: str) -> str | None:
    """Why a path cannot be used: a URI of a scheme that cotlens does not read (None: a local path or s3://,
    gs://). Without this, `s4://b/x` would be a local folder named `s4:`."""
    found = scheme(path)
    if found is None or found in SCHEMES:
        return None
    return f"{found}:// is not supported: use a local path, or an s3:// or gs:// URI"


# A URI's user info (`s3://KEY:SECRET@`), and a query's value under a name that says it is a secret, anywhere in a
# text: what an echo of a path as typed (an unknown lexicon, a mapping that is no file) would print.
_USER_INFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s'\"]+@")
_SECRET_VALUE = re.compile(
    r"([?&][^=&\s]*(?:key|secret|token|password|credential)[^=&\s]*=)[^&#\s'\"]+", re.I
)


def blotted(text: str) -> str:
    """`text` with the credentials a URI in it may carry replaced by ***."""
    if "://" not in text:
        return text
    return _SECRET_VALUE.sub(r"\1***", _USER_INFO.sub(r"\1***@", text))


def split(uri: str) -> tuple[str, str, str]:
    """(scheme, in lower case, and authority with any user info; `bucket/key` without slashes at its ends, or
    `/key` for a URI without a bucket; query)."""
    head, _, rest = uri.partition("://")
    rest, _, query = rest.partition("?")
    authority, _, key = rest.partition("/")
    bucket = authority.rpartition("@")[2]
    user = authority[: len(authority) - len(bucket)]
    key = key.strip("/")
    return f"{head.lower()}://{user}", f"{bucket}/{key}" if key else bucket, query


def join(uri: str, *names: str) -> str:
    """`uri` with `names` appended to its path; its query (filesystem options) kept."""
    base, path, query = split(uri)
    if not path.partition("/")[0]:  # no bucket: the names must not become one
        path = "/" + path.lstrip("/")
    return base + posixpath.join(path, *names) + (f"?{query}" if query else "")


def with_path(uri: str, path: str) -> str:
    """Another object (`bucket/key`) of the filesystem `uri` names, as a URI with the same options."""
    base, _, query = split(uri)
    return base + path + (f"?{query}" if query else "")


def shown(uri: str) -> str:
    """A URI as said and stored: scheme, bucket and key, without the credentials or options it may carry."""
    return f"{scheme(uri)}://{split(uri)[1]}"


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem a URI names (made once per scheme, bucket, credentials and options) and the URI's
    `bucket/key` on it."""
    base, path, query = split(uri)
    bucket, _, key = path.partition("/")
    if not bucket:
        # pyarrow would take the key's first part as the bucket (and look it up over the network).
        raise ObjectStorageError(f"no bucket in the URI (write {scheme(uri)}://BUCKET/KEY)")
    if {".", ".."} & set(key.split("/")):
        # Object stores do not resolve them: `a/../b` would be an object of that very name.
        raise ObjectStorageError(
            "'.' and '..' are not resolved in an object's name: write the name without them"
        )
    root = base + bucket + (f"?{query}" if query else "")
    known = _unusable.get(root)
    if known is not None and time.monotonic() - known[1] < REMEMBERED_SECONDS:
        raise ObjectStorageError(known[0])  # a new one each time: a raise adds to its traceback
    try:
        return _filesystem(root), path
    except ObjectStorageError as e:
        # Asking again (for a bucket's region without a network) takes seconds each time.
        _unusable[root] = (str(e), time.monotonic())
        raise


# Why a filesystem (by its root, as _filesystem's) cannot be used at all, learnt from making it or from a request:
# every later request of the command fails at once with it, rather than after retries of its own (without
# credentials, each request to GCS retries for GCS_RETRY_SECONDS, and an ingest makes several). The CLI forgets them before
# each command (forget_failures); a worker process, which may outlive many commands (a Ray cluster's), after
# REMEMBERED_SECONDS. By root: (what was said, when: time.monotonic()).
_unusable: dict[str, tuple[str, float]] = {}
REMEMBERED_SECONDS = 60


@contextlib.contextmanager
def attempt(uri: str) -> Iterator[None]:
    """Requests to the filesystem of `uri`: one that fails for want of credentials or of a network makes the
    filesystem unusable for the rest of the command. (Refused credentials are not remembered: a policy may let
    them read one object and not another.)"""
    try:
        yield
    except OSError as e:
        if not isinstance(e, ObjectStorageError) and any(
            mark in str(e) for mark in (*_NO_CREDENTIALS, *_UNREACHABLE)
        ):
            base, path, query = split(uri)
            root = base + path.partition("/")[0] + (f"?{query}" if query else "")
            _unusable[root] = (failure(uri, e), time.monotonic())
        raise


def forget_failures() -> None:
    """Requests may succeed again (a new command, a network back)."""
    _unusable.clear()


@lru_cache(maxsize=16)
def _filesystem(root: str) -> pafs.FileSystem:
    """The filesystem (made once), or an ObjectStorageError saying why it cannot be made (remembered by
    `filesystem` as an unusable one)."""
    import pyarrow as pa
    import pyarrow.fs as pafs

    scheme, _, rest = root.partition("://")
    if scheme.lower() in ("gs", "gcs") and "retry_limit_seconds=" not in rest:
        # Google's client retries for minutes without a network or credentials (and does not stop on SIGTERM
        # meanwhile); a URI that sets its own limit keeps it.
        root += f"{'&' if '?' in rest else '?'}retry_limit_seconds={GCS_RETRY_SECONDS}"
    try:
        fs, _ = pafs.FileSystem.from_uri(root)
    except (OSError, pa.ArrowException, ValueError) as e:
        raise ObjectStorageError(failure(root, e)) from None
    return fs


class ObjectStorageError(CotlensError, OSError):
    """A filesystem that cannot be made at all (no support compiled in, a bucket whose region cannot be asked):
    its message is already one line for the user. An OSError too, so that what handles a failed read or write
    handles it."""


def failure(uri: str, error: BaseException) -> str:
    """Why an operation on `uri` failed, in one line (without the URI: callers name it)."""
    if isinstance(error, ObjectStorageError):
        return str(error)
    scheme = uri.partition("://")[0].lower()
    text = _without_credentials(uri, str(error))
    lowered = text.lower()
    if "compiled without" in lowered or "unrecognized filesystem" in lowered:
        return (
            f"this pyarrow cannot read {scheme}:// (built without {'S3' if scheme == 's3' else 'GCS'} support): "
            "install the pyarrow wheel from PyPI"
        )
    if any(mark in text for mark in _NO_CREDENTIALS):
        return f"no credentials ({_detail(text)}): {_CREDENTIALS[scheme]}"
    if any(mark in text for mark in _DENIED):
        return f"access denied ({_detail(text)}): {_CREDENTIALS[scheme]}"
    if any(mark in text for mark in _UNREACHABLE):
        return f"cannot reach the object store ({_detail(text)})"
    if "NO_SUCH_BUCKET" in text or re.search(r"bucket '[^']*' not found", lowered):
        return f"no such bucket: {split(uri)[1].partition('/')[0]}"
    if isinstance(error, FileNotFoundError):
        return "no such object"
    return _detail(text)


# How the cloud SDKs say that a request was refused for its credentials, or never reached the service.
# How they say that no credentials were found to sign a request with (it was not sent).
_NO_CREDENTIALS = (
    "Could not create a OAuth2 access token",
    "Unable to find credentials",
    "MISSING_AUTHENTICATION_TOKEN",
)
_DENIED = (
    "ACCESS_DENIED",
    "INVALID_ACCESS_KEY_ID",
    "SIGNATURE_DOES_NOT_MATCH",
    "EXPIRED_TOKEN",
    "UNRECOGNIZED_CLIENT",
    "PERMISSION_DENIED",  # Google Cloud's status codes
    "UNAUTHENTICATED",
    "status code 401",
    "status code 403",
)
_UNREACHABLE = (
    "NETWORK_CONNECTION",
    "curlCode",
    "Could not resolve",
    "Couldn't resolve",
    "Timeout",
    "timed out",
)
_CREDENTIALS = {
    "s3": "check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)",
    "gs": "check the credentials (GOOGLE_APPLICATION_CREDENTIALS, or gcloud's application default)",
    "gcs": "check the credentials (GOOGLE_APPLICATION_CREDENTIALS, or gcloud's application default)",
}


def unreachable(error: BaseException) -> bool:
    """Whether an error says the object store could not be used at all (credentials refused, no network, no
    such bucket, no support compiled in), rather than that one object is missing or damaged."""
    text = str(error)
    marks = (*_NO_CREDENTIALS, *_DENIED, *_UNREACHABLE, "NO_SUCH_BUCKET", "compiled without")
    return isinstance(error, ObjectStorageError) or any(mark in text for mark in marks)


def _without_credentials(uri: str, text: str) -> str:
    """An SDK's message without the credentials the URI carries (a message may quote the URI it could not use)."""
    user = split(uri)[0].partition("://")[2].rstrip("@")
    # The whole user info, then a key or secret alone (not a short one: it would blot out letters of the text).
    parts = {p for p in (*user.split(":"), *unquote(user).split(":")) if len(p) >= SECRET_CHARACTERS}
    for secret in sorted({user, unquote(user)} - {""}, key=len)[::-1] + sorted(parts, key=len)[::-1]:
        text = text.replace(secret, "***")
    return blotted(text)  # and a query's secrets (pyarrow quotes a URI it cannot parse whole)


def _detail(text: str) -> str:
    """The SDK's own words, cut to their first line, without its request id, the links and metadata Google's
    client appends, and at most DETAIL_CHARACTERS long."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = re.sub(r"\s*\(Request ID: [^)]*\)", "", lines[0] if lines else "failed")
    first = re.split(r" error_info=| Learn more about", first)[0].rstrip(" .,")
    return first if len(first) <= DETAIL_CHARACTERS else first[: DETAIL_CHARACTERS - 1] + "…"


def bucket_missing(uri: str) -> bool:
    """Whether the bucket of `uri` does not exist (or cannot be seen)."""
    import pyarrow.fs as pafs

    try:
        fs, path = filesystem(uri)
        with attempt(uri):
            return bool(fs.get_file_info(path.partition("/")[0]).type == pafs.FileType.NotFound)
    except OSError:
        return False


def explain(uri: str, error: BaseException) -> str:
    """`failure`, with a missing object told apart from a missing bucket (which S3 reports alike)."""
    if isinstance(error, FileNotFoundError) and bucket_missing(uri):
        return f"no such bucket: {split(uri)[1].partition('/')[0]}"
    return failure(uri, error)


class Reader(io.RawIOBase):
    """An object read sequentially in large requests, as a raw binary file that knows its position (for
    progress) and can be buffered and peeked at like a local file."""

    def __init__(self, native: pa.NativeFile) -> None:
        super().__init__()
        self._native = native
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._native.read(len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if not self.closed:
            self._native.close()
        super().close()


def open_reader(uri: str) -> io.BufferedReader:
    """An object, opened for reading from its start."""
    fs, path = filesystem(uri)
    with attempt(uri):
        return io.BufferedReader(Reader(fs.open_input_stream(path, buffer_size=READ_BUFFER)))


def open_random(uri: str) -> pa.NativeFile:
    """An object, opened for reads at any offset (Parquet footers, Arrow files)."""
    fs, path = filesystem(uri)
    with attempt(uri):
        return fs.open_input_file(path)


def size(uri: str) -> int | None:
    """An object's size in bytes; None when it cannot be known."""
    try:
        fs, path = filesystem(uri)
        with attempt(uri):
            info = fs.get_file_info(path)
    except OSError:
        return None
    return info.size if info.is_file else None


def is_pattern(uri: str) -> bool:
    return not GLOB_CHARACTERS.isdisjoint(split(uri)[1])


def expand(uri: str, keep: Callable[[str], bool] | None = None) -> list[str]:
    """The objects a URI names, as URIs in sorted order: itself for an object; every object under it for a
    prefix (a "folder"); the objects whose names match for a pattern (`*`, `?` and `[...]` within one name,
    as a shell's glob). `keep(name)` picks what a prefix or pattern yields. A URI that names nothing, or
    whose listing fails, is returned as given, so that reading it says why."""
    path = split(uri)[1]
    parts = path.split("/")
    fixed = next((i for i, part in enumerate(parts) if not GLOB_CHARACTERS.isdisjoint(part)), len(parts))
    try:
        fs = filesystem(uri)[0]
        with attempt(uri):
            names = _listed(fs, path, parts, fixed)
    except OSError:
        return [uri]
    if names is None:
        return [uri]
    chosen = sorted(n for n in names if keep is None or keep(n))
    return [with_path(uri, n) for n in chosen] or [uri]


def _listed(fs: pafs.FileSystem, path: str, parts: list[str], fixed: int) -> list[str] | None:
    """The objects under a prefix, or matching a pattern (its parts from `fixed` on); None for one object."""
    import pyarrow.fs as pafs

    if fixed == len(parts):
        if fs.get_file_info(path).type != pafs.FileType.Directory:
            return None
        found = fs.get_file_info(pafs.FileSelector(path, recursive=True))
        return [f.path for f in found if f.is_file]
    base = "/".join(parts[:fixed])
    pattern = parts[fixed:]
    found = fs.get_file_info(pafs.FileSelector(base, recursive=len(pattern) > 1, allow_not_found=True))
    return [f.path for f in found if f.is_file and _matches(f.path, parts)]


def unmatched(uri: str) -> str:
    """Why a pattern gave no object: its listing failed (and how), or nothing matches."""
    import pyarrow.fs as pafs

    parts = split(uri)[1].split("/")
    base = "/".join(parts[: next(i for i, part in enumerate(parts) if not GLOB_CHARACTERS.isdisjoint(part))])
    try:
        fs = filesystem(uri)[0]
        with attempt(uri):
            fs.get_file_info(pafs.FileSelector(base, allow_not_found=True))
    except OSError as e:
        return f"cannot list: {explain(uri, e)}"
    if bucket_missing(uri):
        return f"no such bucket: {split(uri)[1].partition('/')[0]}"
    return "no object matches this pattern"


def _matches(path: str, pattern: list[str]) -> bool:
    parts = path.split("/")
    return len(parts) == len(pattern) and all(
        fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern, strict=True)
    )
