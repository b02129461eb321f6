"""Files cotlens keeps between runs outside the store: bytes under a name and a key (everything they are made of).

The only user today is measure/fold.py: its folding tables take a noticeable time to build, in every process that
folds text (each worker too); see bench/README.md. A file's name holds a digest of its key, so a change to anything
it is made of (code, library versions, Unicode tables) reads as a miss and never as stale bytes. Files live in
$XDG_CACHE_HOME/cotlens (~/.cache/cotlens by default); deleting them is always safe. With COTLENS_DEBUG set nothing
is read or written: every process builds what it needs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from cotlens.runtime import debugging


def cache_path(name: str, key: Sequence[object], suffix: str = "") -> Path:
    """Where the bytes of `name` made of `key` are kept (the key's repr is hashed: bytes, str and numbers)."""
    digest = hashlib.sha256(repr(list(key)).encode()).hexdigest()[:20]
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "cotlens" / f"{name}-{digest}{suffix}"


def read_cached(name: str, key: Sequence[object], suffix: str = "") -> bytes | None:
    """The kept bytes, or None (none kept, unreadable, or debugging): the caller then builds them and may
    write_cached them. The caller checks what it reads: a file may be damaged."""
    if debugging():
        return None
    try:
        return cache_path(name, key, suffix).read_bytes()
    except OSError:
        return None


def write_cached(name: str, key: Sequence[object], data: bytes, suffix: str = "") -> None:
    """Keep the bytes: written aside and renamed, so a reader never sees half a file; not at all when the
    directory is not writable (or when debugging)."""
    if debugging():
        return
    path = cache_path(name, key, suffix)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        aside.write_bytes(data)
        os.replace(aside, path)
