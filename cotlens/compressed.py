"""Compressed inputs (gzip, bzip2, xz, zstd), decompressed in bounded pieces, damage reported exactly.

Each codec yields its output in pieces of at most about PIECE_BYTES, whatever the compression ratio, so a
decompression bomb costs no more memory than an ordinary input. A stream that is cut short (truncated) or damaged
is an InputError, always; everything the codec could decode before the damage comes out first, so the complete
lines before it still land. zstd frames are walked block by block (RFC 8878, section 3.1): a block decodes to at
most 128 KiB, and a frame that ends before its last block is known to be truncated, which zstandard's streaming
reader does not say.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

from cotlens.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Most decompressed bytes one step yields. An xz step that meets damage loses what it decoded before it (the
# decoder cannot be copied, as gzip's can, to replay the step): at most this much.
PIECE_BYTES = 64 << 10
# Compressed bytes read at a time.
INPUT_BYTES = 64 << 10


def codec_of(magic: bytes) -> str | None:
    """The codec whose magic bytes start an input, or None for an uncompressed one."""
    for name, prefix in (
        ("gzip", GZIP_MAGIC),
        ("bzip2", BZIP2_MAGIC),
        ("xz", XZ_MAGIC),
        ("zstd", ZSTD_MAGIC),
    ):
        if magic.startswith(prefix):
            return name
    return None


def decompressed(raw: IO[bytes], codec: str) -> PieceReader:
    """A reader of the decompressed bytes of `raw`."""
    pieces = {"gzip": _gunzip, "bzip2": _unbzip2, "xz": _unxz, "zstd": _unzstd}[codec](raw)
    return PieceReader(pieces)


class PieceReader:
    """read(n) and readline(limit) over decompressed pieces. When the stream breaks, the bytes decoded before the
    damage are returned first and the InputError is raised by the next read (and by finish())."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buffer = bytearray()
        self._error: InputError | None = None
        self._ended = False
        self._scanned = 0  # bytes of the buffer known to hold no newline

    def _more(self) -> bool:
        if self._ended:
            return False
        try:
            self._buffer += next(self._pieces)
        except StopIteration:
            self._ended = True
        except InputError as e:
            self._error, self._ended = e, True
        return not self._ended

    def _take(self, n: int) -> bytes:
        if not self._buffer and self._error is not None:
            raise self._error
        with memoryview(self._buffer) as view:
            out = bytes(view[:n])  # one copy (bytes(buffer[:n]) would make two: a long line is large)
        del self._buffer[:n]
        self._scanned = max(0, self._scanned - n)
        return out

    def read(self, n: int = -1) -> bytes:
        while (n < 0 or len(self._buffer) < n) and self._more():
            pass
        if n < 0:
            self.finish()  # all of it was asked for: a broken stream gives none of it
            n = len(self._buffer)
        return self._take(n)

    def readline(self, limit: int = -1) -> bytes:
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0 and (limit < 0 or end < limit):
                return self._take(end + 1)
            if 0 <= limit <= len(self._buffer):
                return self._take(limit)
            self._scanned = len(self._buffer)
            if not self._more():
                return self._take(len(self._buffer))

    def finish(self) -> None:
        """Raise the error that broke the stream, if one did."""
        if self._error is not None:
            raise self._error


def _read_input(raw: IO[bytes], codec: str) -> bytes:
    try:
        return raw.read(INPUT_BYTES)
    except OSError as e:
        raise InputError(f"cannot read {codec} input: {e.strerror or e}") from None


def _truncated(codec: str) -> InputError:
    return InputError(f"truncated {codec} data: the stream ends before its end marker")


def _gunzip(raw: IO[bytes]) -> Iterator[bytes]:
    """Every gzip member in turn (zero padding after a member is skipped, as gzip does)."""
    data = _read_input(raw, "gzip")
    while data:
        inflater = zlib.decompressobj(wbits=31)
        while not inflater.eof:
            if not data:
                data = _read_input(raw, "gzip")
                if not data:
                    yield inflater.flush()
                    raise _truncated("gzip")
            yield from _inflate_step(inflater, data)
            data = inflater.unconsumed_tail
        data = inflater.unused_data.lstrip(b"\0")
        while not data:
            data = _read_input(raw, "gzip")
            if not data:
                return
            data = data.lstrip(b"\0")


def _inflate_step(inflater: Any, data: bytes) -> Iterator[bytes]:
    """One bounded inflate step; on damage, the output up to the damaged byte, then the error."""
    backup = inflater.copy()
    try:
        out = inflater.decompress(data, PIECE_BYTES)
    except zlib.error as e:
        # Replay the step a byte at a time from the copy, to give every byte decoded before the damage.
        for i in range(len(data)):
            try:
                yield backup.decompress(data[i : i + 1])
            except zlib.error:
                break
        raise InputError(f"corrupt gzip data: {e}") from None
    if out:
        yield out


def _unbzip2(raw: IO[bytes]) -> Iterator[bytes]:
    return _stream_codec(raw, "bzip2", bz2.BZ2Decompressor, OSError)


def _unxz(raw: IO[bytes]) -> Iterator[bytes]:
    return _stream_codec(raw, "xz", lzma.LZMADecompressor, lzma.LZMAError)


def _stream_codec(
    raw: IO[bytes], codec: str, new: Callable[[], Any], error: type[Exception]
) -> Iterator[bytes]:
    """bzip2 and xz: decompressors with max_length and needs_input; one after another for concatenated streams."""
    data = b""
    while True:
        decompressor = new()
        data = data or _read_input(raw, codec)
        while not decompressor.eof:
            if decompressor.needs_input:
                if not data:
                    data = _read_input(raw, codec)
                    if not data:
                        raise _truncated(codec)
                feed, data = data, b""
            else:
                feed = b""
            try:
                out = decompressor.decompress(feed, PIECE_BYTES)
            except (error, EOFError) as e:
                raise InputError(f"corrupt {codec} data: {e}") from None
            if out:
                yield out
        data = decompressor.unused_data or _read_input(raw, codec)
        if not data:
            return


# zstd frame layout (RFC 8878): magic, frame header, blocks with 3-byte headers, an optional 4-byte checksum.
SKIPPABLE_MAGIC = range(0x184D2A50, 0x184D2A60)
FCS_BYTES = (0, 2, 4, 8)
DICT_ID_BYTES = (0, 1, 2, 4)
RAW_BLOCK, RLE_BLOCK, COMPRESSED_BLOCK = 0, 1, 2


class _Exact:
    """Exact reads from the compressed input; a short read means the stream was cut."""

    def __init__(self, raw: IO[bytes], first: bytes = b"") -> None:
        self.raw = raw
        self.pending = first

    def read(self, n: int, allow_end: bool = False) -> bytes:
        while len(self.pending) < n:
            more = _read_input(self.raw, "zstd")
            if not more:
                if allow_end and not self.pending:
                    return b""
                raise _truncated("zstd")
            self.pending += more
        out, self.pending = self.pending[:n], self.pending[n:]
        return out


def _unzstd(raw: IO[bytes]) -> Iterator[bytes]:
    import zstandard

    source = _Exact(raw)
    decompressor = zstandard.ZstdDecompressor()
    while True:
        magic = source.read(4, allow_end=True)
        if not magic:
            return
        number = int.from_bytes(magic, "little")
        if number in SKIPPABLE_MAGIC:
            size = int.from_bytes(source.read(4), "little")
            while size:
                size -= len(source.read(min(size, INPUT_BYTES)))
            continue
        if magic != ZSTD_MAGIC:
            raise InputError("corrupt zstd data: not a zstd frame where one should start")
        yield from _zstd_frame(source, decompressor.decompressobj(), zstandard.ZstdError)


def _zstd_frame(source: _Exact, frame: Any, error: type[Exception]) -> Iterator[bytes]:
    descriptor = source.read(1)
    flags = descriptor[0]
    single_segment = flags >> 5 & 1
    fcs = FCS_BYTES[flags >> 6] or (1 if single_segment else 0)
    header = (
        ZSTD_MAGIC + descriptor + source.read((0 if single_segment else 1) + DICT_ID_BYTES[flags & 3] + fcs)
    )
    last = False
    while not last:
        block_header = source.read(3)
        value = int.from_bytes(block_header, "little")
        last, kind, size = bool(value & 1), value >> 1 & 3, value >> 3
        body = source.read(1 if kind == RLE_BLOCK else size)
        if last and flags >> 2 & 1:
            body += source.read(4)  # the content checksum
        try:
            out = frame.decompress(header + block_header + body)
        except error as e:
            raise InputError(f"corrupt zstd data: {e}") from None
        header = b""
        if out:
            yield out
