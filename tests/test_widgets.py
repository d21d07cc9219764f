"""The slider panels: driven from Python as a learner drives them with a mouse.

Assertions read the figures' data (line heights, marker positions), never pixels.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from halab import availability as av
from halab import widgets

PANELS = [
    widgets.timeline_panel,
    widgets.budget_panel,
    widgets.structures_panel,
    widgets.common_cause_panel,
    widgets.failover_panel,
]


def _line(fig, label_start: str, ax_index: int = -1):
    ax = fig.axes[ax_index]
    for line in ax.get_lines():
        if line.get_label().startswith(label_start):
            return line.get_xdata(), line.get_ydata()
    raise AssertionError(
        f"no line labelled {label_start!r}: {[x.get_label() for x in ax.get_lines()]}"
    )


@pytest.mark.parametrize("factory", PANELS, ids=lambda f: f.__name__)
def test_every_control_redraws_and_no_figure_leaks(factory):
    panel = factory()
    before = plt.get_fignums()
    for name, control in panel.controls.items():
        updates = panel.updates
        if hasattr(control, "options"):
            options = [o[1] if isinstance(o, tuple) else o for o in control.options]
            new = options[-1] if control.value != options[-1] else options[0]
        elif isinstance(control.value, str):
            new = control.value + ", 1"
        else:
            new = control.max if control.value != control.max else control.min
        panel.set(**{name: new})
        assert panel.updates == updates + 1, f"moving {name} did not redraw"
        assert panel.error is None, f"moving {name} to {new!r}: {panel.error}"
        assert panel.png.startswith(b"\x89PNG"), "the panel shows a PNG"
    assert plt.get_fignums() == before, "panels must close their figures"
    with pytest.raises(ValueError, match="no control named"):
        panel.set(nonsense=1)


def test_timeline_theory_line_is_the_formula():
    panel = widgets.timeline_panel()
    panel.set(mttf=1000, mttr=50)
    _, y = _line(panel.figure, "MTTF/(MTTF+MTTR)")
    assert np.allclose(y, 1000 / 1050)


def test_structures_plot_formula_and_simulation_agree():
    fig = widgets.draw_structures(mttf=500, mttr=24, max_n=3, k=2, seed=0)
    a = av.availability(500, 24)
    x, y = _line(fig, "parallel: formula")
    assert np.allclose(y, [av.nines(av.parallel(*[a] * n)) for n in x])
    _, sim = _line(fig, "parallel: simulated")
    assert np.allclose(sim, y, atol=0.25), "the simulation should sit on the formula (seed 0)"
    plt.close(fig)


def test_common_cause_and_failover_lines():
    fig = widgets.draw_common_cause(mttf=500, mttr=24, beta=0.2, seed=0)
    x, y = _line(fig, "beta-factor")
    assert np.allclose(y, [av.nines(av.common_cause(500, 24, 0.2, n)) for n in x])
    plt.close(fig)
    fig = widgets.draw_failover(mttf=500, mttr=4, failover_minutes=10, seed=0)
    x, y = _line(fig, "Markov chain")
    assert np.allclose(y, [av.nines(av.active_passive(500, 4, m / 60)) for m in x])
    plt.close(fig)


def test_budget_panel_reports_bad_text_instead_of_crashing():
    panel = widgets.budget_panel()
    panel.set(incidents="ten minutes")
    assert "incidents must be minutes" in panel.error
    panel.set(incidents="10, 50")
    assert panel.error is None
    assert "overspent by 16.8 min" in panel.figure.axes[0].get_title()


def test_legends_name_every_run_and_every_theory_line():
    import matplotlib.pyplot as plt

    from halab.widgets.lesson01 import draw_timeline
    from halab.widgets.lesson03 import draw_policies

    fig = draw_timeline(runs=4)
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert [x for x in labels if x.startswith("run")] == [f"run {i}, measured" for i in range(1, 5)]
    plt.close(fig)
    fig = draw_policies(requests=2000, loads=(0.5, 0.9))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    lines = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == "-"]
    assert len(lines) == 3  # random, round robin, power of two have closed forms
    assert {"random theory: M/M/1", "round_robin theory: E10/M/1"} <= set(labels)
    assert "power_of_two theory: T₂ limit" in labels
    plt.close(fig)


def test_draw_fencing_puts_fenced_runs_at_zero_and_unfenced_on_the_line():
    import matplotlib.pyplot as plt

    from halab.election import expected_interleaved_writes
    from halab.widgets import FENCING_CUTS, draw_fencing

    fig = draw_fencing(seeds=4)
    points = {
        line.get_label(): line.get_ydata()
        for line in fig.axes[0].get_lines()
        if line.get_marker() not in (None, "None", "")
    }
    assert np.all(points["fencing tokens"] == 0)
    loose = points["no fencing, simulated"]
    theory = np.array([expected_interleaved_writes(50.0, c) for c in FENCING_CUTS])
    assert np.all(np.abs(loose - theory) < 0.15 * theory + 6)
    assert np.all(points["CheckQuorum, no fencing"][2:] < theory[2:] / 3)
    plt.close(fig)


def test_draw_outages_simulated_years_follow_the_poisson_steps():
    import matplotlib.pyplot as plt

    from halab.widgets import draw_outages

    fig = draw_outages(years=3000)
    lines = fig.axes[0].get_lines()
    theory = [x for x in lines if x.get_drawstyle() == "steps-post"]
    sims = [x for x in lines if x.get_marker() not in (None, "None", "")]
    assert len(theory) == 2 and len(sims) == 2
    for t, s in zip(theory, sims):
        want = np.interp(s.get_xdata(), t.get_xdata(), t.get_ydata())
        # away from the steps themselves the simulated CDF sits on the closed form
        assert np.median(np.abs(s.get_ydata() - want)) < 0.03
    plt.close(fig)


def test_draw_coverage_simulation_sits_on_the_chain():
    import matplotlib.pyplot as plt

    from halab.widgets import COVERAGES, draw_coverage

    fig = draw_coverage(years=300)
    lines = fig.axes[0].get_lines()
    chain = next(x for x in lines if x.get_label().startswith("Markov chain"))
    sim = next(x for x in lines if x.get_label().startswith("simulated"))
    assert list(sim.get_xdata()) == list(COVERAGES)
    want = np.interp(sim.get_xdata(), chain.get_xdata(), chain.get_ydata())
    assert np.all(np.abs(sim.get_ydata() - want) < 0.1)  # nines
    assert chain.get_ydata()[-1] > chain.get_ydata()[0] + 0.8  # 100% vs 80% coverage
    plt.close(fig)


def test_draw_retries_markers_follow_the_lines():
    import matplotlib.pyplot as plt

    from halab.retries import bottom_attempts, budget_bound
    from halab.widgets import RETRY_P, draw_retries

    fig = draw_retries(requests=2000)
    lines = {x.get_label(): x for x in fig.axes[0].get_lines()}
    free = lines["simulated, no budget"].get_ydata()
    capped = lines["simulated, with budget"].get_ydata()
    want = np.array([bottom_attempts(p, 3, 3) for p in RETRY_P])
    assert np.all(np.abs(free - want) < 0.06 * want)
    assert np.all(capped <= budget_bound(0.2, 3) + 0.01) and capped[-1] > 1.7
    plt.close(fig)


def test_a_panel_keeps_its_figure_remembers_pictures_and_draws_at_2x():
    import struct

    from halab import plots

    panel = widgets.qos_panel()
    kept = panel.figure
    panel.set(seed=3)
    assert panel.figure is kept, "a drawing function with fig= updates the panel's figure"
    drawn = panel.drawn
    panel.set(seed=0)  # shown when the panel was built: from memory, not drawn again
    assert panel.drawn == drawn and panel.updates == 3
    _, y = _line(panel.figure, "closed form", 0)  # the figure follows the sliders all the same
    assert panel.figure.axes[0].get_title() == "Wrong suspicions, loss 10%"
    assert np.isfinite(y).any()
    width, height = struct.unpack(">II", panel.png[16:24])
    inches = panel.figure.get_size_inches()
    assert (width, height) == tuple(round(x * widgets.RENDER_DPI) for x in inches)
    assert widgets.RENDER_DPI == 2 * widgets.DISPLAY_DPI
    assert plots.sharp_inline() is False, "outside a Jupyter kernel it changes nothing"


def test_browser_moves_queued_behind_a_redraw_are_merged_into_one(monkeypatch):
    """Moves that come from the page while a redraw runs wait, and one redraw shows the last."""
    import asyncio

    from halab.widgets import core

    panel = widgets.settings_panel()
    control = panel.controls["inter"]
    monkeypatch.setattr(core, "_from_browser", lambda change: True)

    async def learner_presses_three_keys():
        panel._finished = core.time.monotonic()  # a redraw just ended
        for value in (3.0, 3.5, 4.0):
            control.value = value
        await asyncio.sleep(3 * core.MERGE_SECONDS)

    drawn = panel.drawn
    asyncio.run(learner_presses_three_keys())
    assert panel.drawn == drawn + 1 and panel.values()["inter"] == 4.0
