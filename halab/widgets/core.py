"""The Panel and the house controls that every lesson's panels are made of."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping

import ipywidgets as w
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from IPython import get_ipython
from IPython.display import Image, clear_output, display

from halab.checks import check_choice, check_instance, check_int, check_real

RENDER_DPI = 80  # dots per inch of the PNG a panel shows


class Panel:
    """Sliders bound to a drawing function, and the picture it draws.

    Args:
        draw: a function of keyword arguments that returns a matplotlib figure.
        controls: one widget per keyword argument of ``draw``, in display order.
        fixed: more keyword arguments for ``draw`` that have no widget.
        columns: how many controls per row.

    Attributes:
        figure: the last figure drawn (closed, but its artists and data remain readable).
        output: the ``ipywidgets.Output`` that shows it.
        updates: how many times the panel has redrawn.
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
        self.figure = None
        self.error: str | None = None
        self.png = b""
        self.updates = 0
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

    def update(self) -> None:
        """Re-run the drawing function and show its figure as a PNG, then close the figure."""
        try:
            fig = self.draw(**self.values())
        except ValueError as error:  # a value the model refuses: say why, keep the last figure
            self.error = str(error)
            if get_ipython() is not None:
                with self.output:
                    clear_output(wait=True)
                    print(f"⚠ {error}")
            return
        self.error = None
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=RENDER_DPI)
        plt.close(fig)
        self.figure, self.png = fig, buffer.getvalue()
        self.updates += 1
        if get_ipython() is not None:  # in a kernel; tests and benchmarks skip the display
            with self.output:
                clear_output(wait=True)
                display(Image(data=self.png, format="png"))

    def _changed(self, change) -> None:
        self.update()

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
