"""A store on object storage (`--store s3://bucket/prefix`, `gs://...`): the local store's layout and files,
committed without the renames and the lock that object stores do not have.

    PREFIX/manifest.json                       the one object readers trust: what it does not name is not there
    PREFIX/transcripts/<run>/part-00000.parquet written under the run's own (unique) name, before the manifest
    PREFIX/rejects/<run>.jsonl                 likewise
    PREFIX/.staging/<run>/chunk-*.arrow        parsed chunks, under --engine ray only (its workers may be other
                                               machines); otherwise in a local temporary directory

A run writes its part files and rejects first, then the manifest as one object (an object store replaces an object
whole: a reader sees the old manifest or the new one). A crash before the manifest leaves objects no manifest
names, which readers never see: no reader lists the prefix, and they can be deleted at leisure. `measure` writes a
part aside and moves it over the old one (store.replaced_part). Not protected: two writers at once (ingest or
measure), since nothing serializes them, so the manifest written last wins and the other run's transcripts become
such unnamed objects.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from cotlens import location
from cotlens.errors import StoreError
from cotlens.runtime.engine import selected_engine
from cotlens.store import (
    MANIFEST,
    REJECTS,
    STAGING,
    TRANSCRIPTS,
    PartWriter,
    Store,
    StoreWriter,
    first_line,
    manifest_bytes,
    part_metadata,
)


class ObjectStore(Store):
    """A store under a URI; its part files are the ones its manifest names, as URIs."""

    def __init__(self, root: str) -> None:
        super().__init__(location.shown(root))
        self.uri = root

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)  # a URI is the same anywhere

    @property
    def where(self) -> str:
        return location.shown(self.uri)

    def exists(self) -> bool:
        return self.manifest_data() is not None

    def require(self) -> None:
        if not self.exists():
            raise StoreError(
                f"no cotlens store at {self.where} (create one with `cotlens ingest`, "
                "or point --store / COTLENS_STORE at one)"
            )

    def manifest_data(self) -> bytes | None:
        try:
            filesystem, key = location.filesystem(location.join(self.uri, MANIFEST))
            with location.attempt(self.uri), filesystem.open_input_stream(key) as source:
                data: bytes = source.read()
                return data
        except FileNotFoundError as e:
            if location.bucket_missing(self.uri):
                raise StoreError(
                    f"cannot read the store {self.where}: {location.explain(self.uri, e)}"
                ) from None
            return None
        except OSError as e:
            raise StoreError(f"cannot read the store {self.where}: {location.failure(self.uri, e)}") from None

    def _read_error(self, error: BaseException) -> str:
        """A part file that cannot be read because the store cannot be (credentials that may read the manifest
        only, a network gone) is said as such, not as a damaged part."""
        if location.unreachable(error):
            return f"cannot read the store {self.where}: {location.failure(self.uri, error)}"
        for part in self.parts():
            try:
                part_metadata(part)
            except (OSError, pa.ArrowException) as e:
                what = "missing" if isinstance(e, FileNotFoundError) else f"damaged ({first_line(e)})"
                return (
                    f"part file {location.shown(part)} is {what}: remove its run from {MANIFEST} to read the rest "
                    "(readers read the parts the manifest names)"
                )
        return f"cannot read the store {self.where}: {location.failure(self.uri, error)}"

    def part_files(self) -> list[Path]:
        raise StoreError(f"the store {self.where} is on object storage: its part files are parts()")

    def parts(self) -> list[str]:
        """The part files its manifest names, in the order of their names (as in a local store)."""
        names = sorted(name for run in self.manifest()["runs"] for name in run.get("parts", []))
        return [location.join(self.uri, name) for name in names]

    @contextlib.contextmanager
    def writing(self, outcome: str = "the store is unchanged") -> Iterator[None]:
        try:
            yield
        except OSError as e:
            raise StoreError(
                f"cannot write in {self.where}: {location.failure(self.uri, e)}; {outcome}"
            ) from None

    @contextlib.contextmanager
    def locked(self, on_wait: Any = None) -> Iterator[None]:
        """Object stores have no lock: writers into one store are not serialized (the README says so)."""
        yield

    @contextlib.contextmanager
    def writer(self, options: dict[str, Any], on_wait: Any = None) -> Iterator[StoreWriter]:
        """Write access for one ingest run: its objects are written under its own names, then commit() writes
        the manifest that names them. Leaving the block without commit() deletes what the run wrote."""
        with self.writing():
            new_store = not self.exists()
            if new_store and location.size(self.uri) is not None:
                # As a local store's path that is a file: its objects would be named `OBJECT/manifest.json`...
                raise StoreError(f"{self.where} is an object, not a store prefix: point --store at a prefix")
            writer = ObjectStoreWriter(self, options, new_store=new_store)
            try:
                yield writer
            finally:
                writer.discard()

    def put(self, name: str, data: bytes) -> None:
        """One object of the store written whole."""
        filesystem, key = location.filesystem(location.join(self.uri, name))
        with location.attempt(self.uri), filesystem.open_output_stream(key) as sink:
            sink.write(data)


class ObjectStoreWriter(StoreWriter):
    """Writes a run's part files straight to their place in the store (the manifest does not name them yet);
    rejects and, unless Ray's workers parse, the parsed chunks go to a local temporary directory first."""

    store: ObjectStore

    def _stage(self) -> None:
        self.staging = Path(tempfile.mkdtemp(prefix=f"cotlens-{self.run_id}-"))
        filesystem, key = location.filesystem(location.join(self.store.uri, TRANSCRIPTS, self.run_id))
        self._parts = PartWriter(key, filesystem)
        self._remote_staging = (
            location.join(self.store.uri, STAGING, self.run_id) if selected_engine().name == "ray" else None
        )

    def staging_path(self, index: int) -> str:
        """Ray's workers (maybe on other machines) stage their chunks in the store itself."""
        if self._remote_staging is None:
            return super().staging_path(index)
        return location.join(self._remote_staging, f"chunk-{index:06d}.arrow")

    def commit(self, summary: dict[str, Any]) -> dict[str, Any]:
        """The run's objects first, the manifest last: until it is written, none of them is part of the store."""
        run = self.run_record(summary)
        names = self._parts.close()
        if self.rows_written:
            run["parts"] = [f"{TRANSCRIPTS}/{self.run_id}/{name}" for name in names]
        if self._rejects is not None:
            self._rejects.close()
            run["rejects"] = f"{REJECTS}/{self.run_id}.jsonl"
            self.store.put(run["rejects"], (self.staging / "rejects.jsonl").read_bytes())
        self.store.put(MANIFEST, manifest_bytes(self.manifest_with(run)))
        self.committed = True
        return run

    def discard(self) -> None:
        """Drop the local staging, and, unless the run was committed, every object it wrote."""
        self._drop_staging()
        folders = [(STAGING, self.run_id)]  # Ray's staged chunks: never part of the store
        if not self.committed:
            folders.append((TRANSCRIPTS, self.run_id))
            with contextlib.suppress(OSError):
                filesystem, key = location.filesystem(
                    location.join(self.store.uri, REJECTS, f"{self.run_id}.jsonl")
                )
                filesystem.delete_file(key)
        for folder in folders:
            filesystem, key = location.filesystem(location.join(self.store.uri, *folder))
            with contextlib.suppress(OSError):
                filesystem.delete_dir(key)
