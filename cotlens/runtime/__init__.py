"""How a cotlens process starts, runs its kernels and ends: every start-up and worker-pool trick, in one drawer.

- launch: the `cotlens` entry point. It starts the server workers fork from before the CLI's own imports, when
  the command line alone shows that the command will read text in workers (what each command's workers preload,
  and when, is declared in preload.COMMANDS), and ends the process without the interpreter's teardown.
- early: that server, forked from the cotlens process before anything else is imported, then handed to
  multiprocessing as its own.
- workers: the pool (worker processes forked from that server) and the ordered, bounded map over it; server: the
  module the server imports first, so that it dies with cotlens.
- engine, ray_engine: which engine runs the kernels (worker processes here, or Ray tasks).
- cache: files kept between runs outside the store (the folding tables), as bytes under a key.

Layers: launch is the top of the house (it imports the CLI inside main); the other modules sit below the scan, the
store and the kernels that use them, and import nothing of cotlens above them (ray_engine imports Ray, and only
when that engine is asked for).

One switch turns the tricks that hide what happened off, for debugging: COTLENS_DEBUG=1 (any value but empty) shows
a traceback for an unexpected failure, exits through the interpreter's teardown, and neither reads nor writes the
cache. Nothing here changes a number: each trick only saves time.
"""

from __future__ import annotations

import os

DEBUG_VARIABLE = "COTLENS_DEBUG"


def debugging() -> bool:
    """Whether COTLENS_DEBUG is set (to anything but the empty string)."""
    return bool(os.environ.get(DEBUG_VARIABLE))
