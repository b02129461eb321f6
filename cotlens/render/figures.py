"""Figures for papers and for the report, drawn with matplotlib from the rows the analyses return: numbers in,
drawings out (nothing is computed here but layout).

- rates: a forest plot, rate per 1000 tokens with its 95% interval, a panel per lexicon, a row per group (or per
  term and group);
- compare: rate ratios against the baseline with their intervals on a log axis, the line of no change at 1;
- langmix: the non-Latin token share of each group as bars stacked by script;
- loops: each Gopher statistic's distribution per group, its threshold marked.

matplotlib is imported here only, and this module only by `plot` and `report`: no other command pays its 0.5-1 s
of import. Labels are hostile text: made inert (printable), cut to LABEL_CHARS, and never parsed as mathtext
(text.parse_math off: "$x$" in a model name stays as written). SVG text stays text (svg.fonttype none: small,
selectable, searchable) and the output is deterministic (fixed hash salt, no date).
"""

from __future__ import annotations

import functools
import io
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from cotlens.escape import printable
from cotlens.lexicon import CUSTOM
from cotlens.measure.repetition import GOPHER_COLUMNS, GOPHER_THRESHOLDS
from cotlens.result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FIGURE_FORMATS = ("svg", "png", "pdf")
LABEL_CHARS = 40
WIDTH_INCHES = 7.0
ROW_INCHES = 0.24
# Width of a label character at 8 pt (DejaVu Sans averages 0.55 em).
CHAR_INCHES = 0.062
# Colours of groups, in group order: matplotlib's default cycle (tab10), distinguishable in print.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "cotlens",
    "text.parse_math": False,
    "font.family": "DejaVu Sans",
    "font.size": 8.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
}
# The 'Date' (SVG) / 'CreationDate' (PDF) entries left out: the same data draws the same file.
METADATA = {"svg": {"Date": None}, "pdf": {"CreationDate": None}, "png": {}}


def label(text: Any) -> str:
    """A hostile string as a label: inert, one line, at most LABEL_CHARS characters."""
    flat = printable(" ".join(str(text).split()))
    return flat if len(flat) <= LABEL_CHARS else flat[: LABEL_CHARS - 1] + "…"


@contextmanager
def _quiet() -> Iterator[None]:
    """matplotlib's style, without its warnings for glyphs its font lacks (a Han label): the figure still draws."""
    import matplotlib

    with matplotlib.rc_context(STYLE), warnings.catch_warnings():  # type: ignore[arg-type]
        warnings.simplefilter("ignore")
        logger = logging.getLogger("matplotlib")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)


F = TypeVar("F", bound=Callable[..., Any])


def _styled(draw: F) -> F:
    """Runs a figure function in the style context: settings such as the title's place apply when an element
    is made, so all of a figure is made inside it."""

    @functools.wraps(draw)
    def styled(*args: Any, **kwargs: Any) -> Any:
        with _quiet():
            return draw(*args, **kwargs)

    return styled  # type: ignore[return-value]


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure as an SVG, PNG (150 dpi) or PDF file."""
    out = io.BytesIO()
    with _quiet():
        figure.savefig(out, format=fmt, metadata=METADATA[fmt], dpi=150)
    return out.getvalue()


def plot_bytes(kind: str, result: Result, terms: bool, statistic: str | None, fmt: str) -> bytes:
    """`cotlens plot`'s figure of analysis `kind` (rates, compare, langmix, loops) drawn from its result, as an
    svg, png or pdf file's bytes; `terms`: a rates row per term; `statistic`: the one loops statistic drawn."""
    if kind == "rates":
        figure = rates_figure(result, terms)
    elif kind == "compare":
        figure = compare_figure(result)
    elif kind == "langmix":
        figure = langmix_figure(result)
    else:
        figure = loops_figure(result, statistic)
    return figure_bytes(figure, fmt)


def _figure(rows: int, labels: list[str], panels: int = 1, right: float = 0.3) -> tuple[Figure, list[Axes]]:
    """A figure of `panels` stacked panels, each tall enough for `rows` rows, its left margin wide enough for
    the labels. Margins are set, not solved for: matplotlib's constrained layout draws every text twice more."""
    from matplotlib.figure import Figure

    with _quiet():
        panel = max(0.5, ROW_INCHES * rows + 0.2)
        gap, top, bottom = 0.8, 0.3, 0.5  # between panels: an axis label and the next title
        height = panels * panel + (panels - 1) * gap + top + bottom
        left = 0.25 + CHAR_INCHES * max((len(label(t)) for t in labels), default=4)
        figure = Figure(figsize=(WIDTH_INCHES, height))
        axes = figure.subplots(panels, 1, squeeze=False)[:, 0].tolist()
        figure.subplots_adjust(
            left=min(0.6, left / WIDTH_INCHES),
            right=1 - right / WIDTH_INCHES,
            top=1 - top / height,
            bottom=bottom / height,
            hspace=gap / panel,
        )
    return figure, axes


def _colours(groups: list[str]) -> dict[str, str]:
    return {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(dict.fromkeys(groups))}


def _forest(
    axes: Axes,
    entries: list[tuple[str, str, float | None, float | None, float | None, str]],
    colours: dict[str, str],
    xlabel: str,
    reference: float | None = None,
    log: bool = False,
) -> None:
    """One row per entry (label, group, estimate, low, high, note), top to bottom; an entry without an estimate
    that can be drawn shows its note ("n/a" when empty) instead."""
    with _quiet():
        n = len(entries)
        for i, (_text, group, value, low, high, note) in enumerate(entries):
            y = n - 1 - i
            if value is None or not math.isfinite(value) or (log and value <= 0):
                axes.text(
                    0.01, y, note or "n/a", transform=axes.get_yaxis_transform(), va="center", color="#777777"
                )
                continue
            lo = value if low is None or not math.isfinite(low) or (log and low <= 0) else low
            hi = value if high is None or not math.isfinite(high) else high
            axes.errorbar(
                value,
                y,
                xerr=[[max(0.0, value - lo)], [max(0.0, hi - value)]],
                fmt="o",
                color=colours[group],
                ms=4,
                capsize=2,
                lw=1,
            )
        axes.set_yticks(range(n), [label(e[0]) for e in reversed(entries)])
        axes.set_ylim(-0.7, n - 0.3)
        if log:
            from matplotlib.ticker import FuncFormatter, NullFormatter

            axes.set_xscale("log")
            # Plain numbers: with mathtext off, the default log labels would print their TeX source.
            axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axes.xaxis.set_minor_formatter(NullFormatter())
        if reference is not None:
            axes.axvline(reference, color="#999999", lw=0.8, ls="--", zorder=0)
        axes.set_xlabel(xlabel)
        axes.grid(axis="x", color="#eeeeee", lw=0.6)
        axes.set_axisbelow(True)


@_styled
def rates_figure(result: Result, terms: bool = False) -> Figure:
    """`rates` as a forest plot: a panel per lexicon; its total per group, or with `terms` each term per group."""
    rows = [r for r in result.rows if (r["term"] != "(total)") == terms or r["lexicon"] == CUSTOM]
    lexicons = list(dict.fromkeys(r["lexicon"] for r in rows))
    colours = _colours([r["group"] for r in rows])
    per_panel = [
        [
            (
                f"{r['term']} · {r['group']}" if terms or lexicon == CUSTOM else r["group"],
                r["group"],
                r["rate_per_1k"],
                r["rate_per_1k_low"],
                r["rate_per_1k_high"],
                "",
            )
            for r in rows
            if r["lexicon"] == lexicon
        ]
        for lexicon in lexicons
    ]
    labels = [e[0] for panel in per_panel for e in panel]
    figure, axes = _figure(max(len(p) for p in per_panel), labels, len(lexicons))
    for ax, lexicon, entries in zip(axes, lexicons, per_panel, strict=True):
        _forest(ax, entries, colours, "occurrences per 1000 tokens (95% interval)")
        ax.set_title(label(lexicon))
    return figure


@_styled
def compare_figure(result: Result) -> Figure:
    """`compare` as ratios against the baseline (log axis, no change at 1), a row per side and metric the
    table shows."""
    shown = {row["label"] for row in result.rows}
    records = [r for r in result.data_rows() if r["label"] in shown]
    rows = [r for r in records if not r["baseline"] and r["metric_kind"] != "count"]
    colours = _colours([r["side"] for r in rows])
    baseline = next((r["side"] for r in records if r["baseline"]), "")
    entries = [
        (f"{r['label']} · {r['side']}", r["side"], r["ratio"], r["ratio_low"], r["ratio_high"], _no_ratio(r))
        for r in rows
    ]
    figure, (axes,) = _figure(len(rows), [e[0] for e in entries])
    _forest(
        axes,
        entries,
        colours,
        f"ratio to {label(baseline)} (95% interval, log scale)",
        reference=1.0,
        log=True,
    )
    axes.set_title(f"against {label(baseline)}")
    return figure


def _no_ratio(record: dict[str, Any]) -> str:
    """Why a ratio is not on the log axis: a zero on either side."""
    if record["ratio"] == 0:
        return "0: none on this side"
    if record["ratio"] is None or not math.isfinite(record["ratio"]):
        return "from 0: none in the baseline" if record["value"] else "0 vs 0"
    return ""


@_styled
def langmix_figure(result: Result) -> Figure:
    """`langmix --scripts` as bars: each group's non-Latin token share, stacked by script."""
    totals = [r for r in result.rows if r["script"] == "(all)"]
    scripts = list(dict.fromkeys(r["script"] for r in result.rows if r["script"] != "(all)"))
    colours = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(scripts)}
    names = [
        f"{r['group']} ({r['reasoning_kind']})"
        if len({t["reasoning_kind"] for t in totals}) > 1
        else r["group"]
        for r in totals
    ]
    figure, (axes,) = _figure(len(totals), names, right=1.3)
    with _quiet():
        ys = list(range(len(totals)))[::-1]
        for script in scripts:
            left = []
            widths = []
            for total in totals:
                mine = [
                    r
                    for r in result.rows
                    if r["group"] == total["group"] and r["reasoning_kind"] == total["reasoning_kind"]
                ]
                before = sum(
                    100 * r["nonlatin_token_share"]
                    for r in mine
                    if r["script"] in scripts[: scripts.index(script)]
                )
                left.append(before)
                widths.append(sum(100 * r["nonlatin_token_share"] for r in mine if r["script"] == script))
            axes.barh(ys, widths, left=left, color=colours[script], label=label(script), height=0.6)
        for y, total in zip(ys, totals, strict=True):
            share = 100 * total["nonlatin_token_share"]
            spans = total["spans_per_1k"]
            axes.text(
                share, y, f"  {share:.3g}%, {spans:.3g} spans/1k", va="center", fontsize=7, color="#444444"
            )
        axes.set_yticks(ys, [label(n) for n in names])
        axes.set_xlabel("non-Latin share of o200k tokens (%), by script")
        axes.set_xlim(0, max([100 * t["nonlatin_token_share"] for t in totals] + [0.1]) * 1.45)
        if scripts:
            axes.legend(
                loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, title="script"
            )
        axes.set_title("Language mixing")
    return figure


@_styled
def loops_figure(result: Result, statistic: str | None = None) -> Figure:
    """`loops` distributions (the loops-distribution section): per statistic, each group's share of transcripts
    per bin, the threshold dashed; every statistic in a grid, or one."""
    section = next(s for s in result.sections if s.kind == "loops-distribution")
    names = [statistic] if statistic else list(GOPHER_COLUMNS)
    from matplotlib.figure import Figure

    columns = 1 if statistic else 3
    grid_rows = math.ceil(len(names) / columns)
    with _quiet():
        height = (3.0 if statistic else 1.6 * grid_rows) + 0.6
        figure = Figure(figsize=(WIDTH_INCHES, height))
        grid = figure.subplots(grid_rows, columns, squeeze=False).ravel().tolist()
        figure.subplots_adjust(
            left=0.07, right=0.98, top=1 - 0.3 / height, bottom=0.55 / height, hspace=0.6, wspace=0.25
        )
        groups = list(dict.fromkeys((r["group"], r["reasoning_kind"]) for r in section.rows))
        colours = _colours([g for g, _ in groups])
        for ax, name in zip(grid, names, strict=False):
            for group, kind in groups:
                mine = [
                    r
                    for r in section.rows
                    if r["statistic"] == name and (r["group"], r["reasoning_kind"]) == (group, kind)
                ]
                n = sum(r["transcripts"] for r in mine) or 1
                edges = [r["bin_low"] for r in mine] + [mine[-1]["bin_high"]] if mine else [0.0, 1.0]
                shares = [r["transcripts"] / n for r in mine] or [0.0]
                ax.stairs(shares, edges, color=colours[group], label=label(group), lw=1)
            ax.axvline(GOPHER_THRESHOLDS[name], color="#d62728", lw=0.8, ls="--")
            ax.set_title(name, fontsize=7.5)
            ax.set_xlim(0, 1)
            ax.tick_params(labelsize=6.5)
        for ax in grid[len(names) :]:
            ax.set_visible(False)
        grid[0].legend(fontsize=6.5, frameon=False)
        figure.supxlabel(
            "value (share of transcripts per bin; dashed: Gopher threshold)", fontsize=7.5, y=0.1 / height
        )
    return figure
