"""How large an input record and a JSON document may be (cheap to import: the CLI shows the defaults)."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1 << 20
# Defaults: a reasoning trace of 128k tokens is about 0.5 MB; an Inspect sample with a long agentic run some MB.
RECORD_BYTES = 64 * MB
DOCUMENT_BYTES = 256 * MB
# The largest either limit may be set to, in MB (1 TiB): beyond any record read whole, and it keeps the limit a
# whole number of bytes (`--max-record-mb inf` has none).
LIMIT_MB_MAX = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """The largest input record (a JSON Lines line, an archive member) and JSON document ingest reads, in bytes
    after decompression. What exceeds them is rejected with its size, never read whole, so that memory stays
    bounded whatever the input (a decompression bomb, a gigabyte line)."""

    record_bytes: int = RECORD_BYTES
    document_bytes: int = DOCUMENT_BYTES

    def record_error(self, size: int, what: str = "a record") -> str:
        return (
            f"{what} of {size:,} bytes is over the per-record limit of {self.record_bytes:,} bytes "
            "(raise it with --max-record-mb)"
        )
