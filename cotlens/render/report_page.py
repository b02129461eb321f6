"""The `report` command's work: the analyses the report holds (analyses/report.py) and its page (render/html.py),
both run in one pool of workers. It lives above both because it composes them: the analyses return numbers, and the
page is drawn from them (its figures in the same workers)."""

from __future__ import annotations

from cotlens.analyses.report import Report, ReportOptions, build_report
from cotlens.lexicon import Lexicon
from cotlens.render.html import report_html
from cotlens.runtime.workers import pool_jobs, worker_pool
from cotlens.scan import Selection, repays_workers
from cotlens.store import Store


def make_report(
    store: Store,
    selection: Selection,
    lexicons: list[Lexicon],
    options: ReportOptions,
) -> tuple[Report, str]:
    """The report and its page: on a store large enough to repay starting them, the analyses and then the
    figures run in a worker per core (under the Ray engine, as Ray tasks whatever the size)."""
    options.validate()
    store.require()
    with worker_pool(pool_jobs(repays_workers(store))) as workers:
        report = build_report(store, selection, lexicons, options, workers)
        return report, report_html(report, workers)
