"""One plotting style for every lesson: small figures, theory as lines, simulation as markers.

    >>> fig, ax = figure()
    >>> theory_line(ax, [1, 2, 3], [1, 4, 9], label="theory")
    >>> sim_points(ax, [1, 2, 3], [1.1, 3.9, 9.2], label="simulation")
    >>> _ = decorate(ax, title="Squares", xlabel="x", ylabel="x²")
    >>> close(fig)

Figures are closed after drawing (``show``) so that re-running a cell never leaks them.
In a Jupyter kernel, importing this module makes static figures 2x PNGs shown at their usual
size (:func:`sharp_inline`), as the panels are.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

FIGSIZE = (6.0, 3.5)  # inches, the house size
THEORY = {"color": "black", "linewidth": 1.6, "zorder": 3}
SIMULATION = {"marker": "o", "linestyle": "none", "markersize": 4.5, "alpha": 0.8, "zorder": 4}
REFERENCE = {"color": "gray", "linestyle": ":", "linewidth": 1.2, "zorder": 2}
UP_COLOR, DOWN_COLOR = "#4c9a2a", "#c0392b"


MARGINS = {"left": 0.12, "right": 0.97, "bottom": 0.14, "top": 0.9, "hspace": 0.45, "wspace": 0.3}
"""Fixed margins (fractions of the figure) that fit the house size; a layout engine such as
``constrained`` would fit any labels but costs a second full draw on every slider move."""


def figure(
    nrows: int = 1, ncols: int = 1, *, width: float | None = None, height: float | None = None, **kw
):
    """A new figure of the house size with the house margins; returns (fig, axes).

    Args:
        nrows, ncols: the grid of axes.
        width, height: inches; by default 6 wide and 3.5 tall per row.
        **kw: passed to ``plt.subplots`` (``height_ratios=``, ``sharex=``, ...); a ``margins``
            dict overrides entries of :data:`MARGINS`.
    """
    margins = {**MARGINS, **kw.pop("margins", {})}
    rows_height = height or FIGSIZE[1] * nrows
    # keep the margins in inches roughly constant when the figure is taller than one row
    margins["bottom"] = margins["bottom"] * FIGSIZE[1] / rows_height
    margins["top"] = 1 - (1 - margins["top"]) * FIGSIZE[1] / rows_height
    fig, axes = plt.subplots(nrows, ncols, figsize=(width or FIGSIZE[0], rows_height), **kw)
    fig.subplots_adjust(**margins)
    return fig, axes


def check_figure(fig, name: str = "fig"):
    """``fig`` if it is a Matplotlib figure or ``None`` (draw a new one); else a TypeError."""
    from matplotlib.figure import Figure

    if fig is not None and not isinstance(fig, Figure):
        raise TypeError(f"{name} must be a figure this function drew before, or None, got {fig!r}")
    return fig


def reuse(fig) -> list:
    """Empty a figure drawn before of its data and return its axes, to draw into them again.

    Lines, bars, patches, collections, texts and legends go; the axes stay with their scales,
    tick locators and labels, and autoscaling is switched back on, as on a new axes. A
    drawing function that makes the same calls on the emptied axes as on new ones draws the
    same picture, for about half the cost of building a new figure (issue 17).
    """
    for ax in fig.axes:
        for container in list(ax.containers):
            container.remove()
        for artist in [*ax.lines, *ax.patches, *ax.collections, *ax.texts, *ax.images]:
            artist.remove()
        if ax.legend_ is not None:
            ax.legend_.remove()
        ax.set_prop_cycle(None)  # colours start again at C0
        ax.relim()
        ax.set_autoscale_on(True)
    return fig.axes


def decorate(
    ax, *, title: str = "", xlabel: str = "", ylabel: str = "", legend: bool | None = None, **kw
):
    """Label an axes the house way: title, axis labels, a light grid, a legend when labelled.

    Extra keywords are passed to ``ax.set`` (``xlim=``, ``yscale=``, ...).
    """
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if kw:
        ax.set(**kw)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if legend or (legend is None and labels):
        ax.legend(fontsize=8, frameon=False)
    return ax


def plain_log_ticks(axis, *, minor: bool = False) -> None:
    """Label a logarithmic axis (``ax.xaxis`` or ``ax.yaxis``) with plain numbers at each
    decade (0.01, 1, 100) and no minor ticks unless ``minor``: the default math-text labels
    (10⁻²) cost a third of a panel's redraw."""
    axis.set_major_locator(ticker.LogLocator(base=10))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
    if not minor:
        axis.set_minor_locator(ticker.NullLocator())


def theory_line(ax, x: Sequence[float], y: Sequence[float], *, label: str = "theory", **kw):
    """Draw a closed form as a solid line."""
    ax.plot(x, y, label=label, **{**THEORY, **kw})


def sim_points(ax, x: Sequence[float], y: Sequence[float], *, label: str = "simulation", **kw):
    """Draw simulation results as markers."""
    ax.plot(x, y, label=label, **{**SIMULATION, **kw})


def reference(
    ax, y: float | None = None, *, x: float | None = None, label: str | None = None, **kw
):
    """A dotted reference level: horizontal at ``y`` or vertical at ``x``."""
    style = {**REFERENCE, **kw}
    if y is not None:
        ax.axhline(y, label=label, **style)
    if x is not None:
        ax.axvline(x, label=label, **style)


def band(
    ax,
    x: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    *,
    label: str | None = None,
    **kw,
):
    """A shaded band, e.g. a 95% confidence band around a theory line."""
    ax.fill_between(
        x,
        low,
        high,
        alpha=kw.pop("alpha", 0.18),
        color=kw.pop("color", "gray"),
        label=label,
        lw=0,
        **kw,
    )


def up_down(
    ax,
    row: float,
    failures: Sequence[float],
    repairs: Sequence[float],
    horizon: float,
    *,
    height: float = 0.6,
    label: str | None = None,
):
    """One row of an up/down timeline: green while up, red while down, over [0, horizon]."""
    ax.broken_barh([(0, horizon)], (row - height / 2, height), color=UP_COLOR, alpha=0.35)
    spans = [(f, min(r, horizon) - f) for f, r in zip(failures, repairs) if f < horizon]
    if spans:
        ax.broken_barh(spans, (row - height / 2, height), color=DOWN_COLOR)
    if label is not None:
        ax.text(-0.01 * horizon, row, label, ha="right", va="center", fontsize=8)


def cdf(ax, values: Sequence[float], *, label: str | None = None, **kw):
    """An empirical CDF as a step line."""
    v = np.sort(np.asarray(values, dtype=float))
    if v.size == 0:
        return
    ax.step(v, np.arange(1, v.size + 1) / v.size, where="post", label=label, **kw)


def show(fig) -> None:
    """Show a figure inline and close it, so that re-runs never accumulate figures."""
    plt.show()
    plt.close(fig)


def close(fig) -> None:
    """Close a figure without showing it (tests, benchmarks)."""
    plt.close(fig)


def sharp_inline() -> bool:
    """In a Jupyter kernel, show static figures as 2x PNGs at their usual size ("retina").

    A panel's picture is drawn at twice the pixels it is shown at
    (:mod:`halab.widgets.render`); this gives static figures the same sharpness on a laptop's
    screen, at the same size (100 CSS pixels per inch, matplotlib's figure dpi). The setting
    is the inline backend's ``figure_formats``, so it holds when the backend is set up again.
    Returns whether it applied (False outside a kernel or without matplotlib-inline).
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
        from matplotlib_inline.config import InlineBackend
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    config = InlineBackend.instance()
    config.figure_formats = {"retina"}
    select_figure_formats(shell, {"retina"}, **config.print_figure_kwargs)
    return True


sharp_inline()
