"""Imported by the server that worker processes fork from (early.fork_server or workers.start_server), before
anything else: the server then exits when the cotlens process that started it dies, even by SIGKILL. Never
imported elsewhere."""

# The loop every worker runs (ProcessPoolExecutor's): imported once here rather than by each worker.
import concurrent.futures.process  # noqa: F401

from cotlens.runtime.workers import exit_with_parent

exit_with_parent()
