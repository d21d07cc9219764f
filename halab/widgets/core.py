"""The Panel and the house controls that every lesson's panels are made of.

A slider move costs what the kernel spends on it, so a panel does as little as it can:

- a drawing function that takes ``fig=`` is given the figure it drew last and updates it in
  place (new data on the same artists: ``set_data``, ``relim``) or draws into its emptied
  axes (:func:`halab.plots.reuse`); building a fresh figure costs about twice as much as
  re-rendering a kept one;
- each picture is remembered by the controls' values, so coming back to a slider value shows
  it again at once (:data:`PICTURES_KEPT` per panel);
- moves that arrive from the browser while a redraw runs are merged: the panel draws the
  latest values once instead of every value in between (:data:`MERGE_SECONDS`);
- the PNG (:func:`halab.widgets.render.render_png`) is drawn at twice the pixels it is shown
  at, the size of a static figure, so it is sharp on a laptop's screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Mapping

import ipywidgets as w
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from IPython import get_ipython
from IPython.display import Image, clear_output, display

from halab.checks import check_choice, check_instance, check_int, check_real
from halab.widgets.render import render_png

PICTURES_KEPT = 24  # PNGs a panel remembers by the controls' values
MERGE_SECONDS = 0.015  # a browser move this soon after a redraw waits for the moves behind it


def show_png(output: w.Output, png: bytes) -> None:
    """Replace what ``output`` shows by ``png``, at half its pixel size (a 2x picture)."""
    with output:
        clear_output(wait=True)
        display(Image(data=png, format="png", retina=True))


def _key(values: Mapping[str, object]):
    """A hashable key for the controls' values, or None when one of them is not hashable."""
    key = tuple(sorted(values.items()))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _from_browser(change) -> bool:
    """True when a change comes from the page (ipywidgets holds the property lock while it
    applies a state the browser sent) and the kernel's event loop runs."""
    if not getattr(change.get("owner"), "_property_lock", None):
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Panel:
    """Sliders bound to a drawing function, and the picture it draws.

    Args:
        draw: a function of keyword arguments that returns a matplotlib figure. If it takes
            ``fig``, it is given the figure it returned last time, to update in place.
        controls: one widget per keyword argument of ``draw``, in display order.
        fixed: more keyword arguments for ``draw`` that have no widget.
        columns: how many controls per row.

    Attributes:
        figure: the figure of the controls' current values (closed, but its artists and data
            remain readable); drawn again when the picture came from memory.
        output: the ``ipywidgets.Output`` that shows it.
        png: the PNG shown.
        updates: how many times the panel has shown a picture.
        drawn: how many of those it drew (the others it remembered).
        error: the message of the last ``ValueError`` the drawing function raised, or None.
    """

    def __init__(
        self,
        draw: Callable[..., matplotlib.figure.Figure],
        controls: Mapping[str, w.ValueWidget],
        *,
        fixed: Mapping[str, object] | None = None,
        columns: int = 3,
    ):
        if not callable(draw):
            raise TypeError(f"draw must be a drawing function, got {draw!r}")
        check_instance("controls", controls, Mapping)
        if fixed is not None:
            check_instance("fixed", fixed, Mapping)
        columns = check_int("columns", columns, 1, 12)
        self.draw = draw
        self.controls = dict(controls)
        self.fixed = dict(fixed or {})
        self.output = w.Output()
        self._figure = None
        self._figure_key: object = ()
        self._keeps = "fig" in inspect.signature(draw).parameters
        self._pictures: OrderedDict[object, bytes] = OrderedDict()
        self._pending = False
        self._finished = -1.0
        self.error: str | None = None
        self.png = b""
        self.updates = 0
        self.drawn = 0
        for control in self.controls.values():
            if hasattr(control, "continuous_update"):
                control.continuous_update = False
            control.observe(self._changed, names="value")
        rows = [
            w.HBox(list(self.controls.values())[i : i + columns])
            for i in range(0, len(self.controls), columns)
        ]
        self.widget = w.VBox([*rows, self.output])
        self.update()

    def values(self) -> dict[str, object]:
        """The current keyword arguments: every control's value, and the fixed ones."""
        return {**{name: c.value for name, c in self.controls.items()}, **self.fixed}

    def set(self, **values) -> None:
        """Move controls from Python, as a learner would with the mouse (each move redraws)."""
        for name, value in values.items():
            if name not in self.controls:
                known = ", ".join(self.controls)
                raise ValueError(f"no control named {name!r}; this panel has: {known}")
            self.controls[name].value = value

    @property
    def figure(self):
        """The figure of the controls' current values (see the class's attributes)."""
        values = self.values()
        if self._figure is not None and self._figure_key != _key(values):
            with contextlib.suppress(ValueError):  # the picture came from memory: draw it
                self._draw(values)
        return self._figure

    def _draw(self, values: dict[str, object]):
        kept = {"fig": self._figure} if self._keeps else {}
        fig = self.draw(**values, **kept)
        if fig is not self._figure:
            plt.close(fig)  # out of pyplot's list: nothing leaks; savefig still works
        self._figure, self._figure_key = fig, _key(values)
        return fig

    def update(self) -> None:
        """Show the picture of the current values: remembered, or drawn and rendered to PNG."""
        values = self.values()
        key = _key(values)
        png = self._pictures.get(key) if key is not None else None
        if png is None:
            try:
                fig = self._draw(values)
            except ValueError as error:  # a value the model refuses: say why, keep the last
                self.error = str(error)
                if get_ipython() is not None:
                    with self.output:
                        clear_output(wait=True)
                        print(f"⚠ {error}")
                return
            png = render_png(fig)
            self.drawn += 1
            if key is not None:
                self._pictures[key] = png
                while len(self._pictures) > PICTURES_KEPT:
                    self._pictures.popitem(last=False)
        else:
            self._pictures.move_to_end(key)
        self.error = None
        self.png = png
        self.updates += 1
        if get_ipython() is not None:  # in a kernel; tests and benchmarks skip the display
            show_png(self.output, self.png)

    def _changed(self, change) -> None:
        if not _from_browser(change):
            self.update()  # from Python (tests, nbval, a cell): at once
            return
        if self._pending:
            return  # a redraw is already due: it will read the latest values
        if time.monotonic() - self._finished > MERGE_SECONDS:
            self._update_from_browser()  # the first move after a pause: at once
            return
        # This move was queued behind the last redraw: wait for the ones queued with it.
        self._pending = True
        asyncio.get_running_loop().call_later(MERGE_SECONDS, self._update_from_browser)

    def _update_from_browser(self) -> None:
        self._pending = False
        try:
            self.update()
        except Exception:  # in a loop callback nobody would see it: show it in the panel
            with self.output:
                clear_output(wait=True)
                print(traceback.format_exc())
        self._finished = time.monotonic()

    def _ipython_display_(self) -> None:
        display(self.widget)


def slider(
    value: float,
    low: float,
    high: float,
    step: float,
    description: str,
    *,
    readout: str = ".3g",
    log: bool = False,
):
    """A float slider in the house style (wide label, released-only updates)."""
    check_instance("description", description, str)
    check_instance("readout", readout, str)
    low = check_real("low", low, 0 if log else -np.inf, lo_open=log)
    high = check_real("high", high, low, lo_open=True)
    value = check_real("value", value, low, high)
    step = check_real("step", step, 0, lo_open=True)
    cls = w.FloatLogSlider if log else w.FloatSlider
    style = {"description_width": "initial"}
    if log:
        return cls(
            value=value,
            base=10,
            min=np.log10(low),
            max=np.log10(high),
            step=step,
            description=description,
            readout_format=readout,
            style=style,
            continuous_update=False,
        )
    return cls(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        readout_format=readout,
        style=style,
        continuous_update=False,
    )


def int_slider(value: int, low: int, high: int, description: str, step: int = 1):
    """An integer slider in the house style."""
    check_instance("description", description, str)
    low = check_int("low", low, None, None)
    high = check_int("high", high, low + 1, None)
    value = check_int("value", value, low, high)
    step = check_int("step", step, 1, high - low)
    return w.IntSlider(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        style={"description_width": "initial"},
        continuous_update=False,
    )


def choice(value: str, options, description: str):
    """A dropdown in the house style."""
    check_instance("description", description, str)
    check_instance("options", options, (list, tuple, dict))
    if not options:
        raise ValueError("options must name at least one choice, got none")
    check_choice("value", value, options.values() if isinstance(options, dict) else options)
    return w.Dropdown(
        value=value,
        options=options,
        description=description,
        style={"description_width": "initial"},
    )
