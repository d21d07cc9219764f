"""The slider panels of the lessons: each a thin coat of widgets over a drawing function.

The pattern (ThinkDSP's): a plain drawing function, numbers in and figure out, wrapped in a
:class:`Panel`; the panel is the lesson's figure (it draws the function at its defaults first),
and a lesson calls the function alone only for a figure at other settings or from live data::

    fig = draw_timeline(mttf=500, mttr=24)          # a plain function: numbers in, figure out
    timeline_panel()                                 # the same function, with sliders

:func:`table` (:mod:`halab.widgets.table`) renders a lesson's rows of numbers as a table.

A panel re-draws when a slider is released (``continuous_update=False``). Setting a slider
from Python (``panel.set(mttr=48)``) fires the same update, which is how tests and
``make bench`` drive panels without a browser. Drawing functions take keyword arguments only,
call the models, and return a closed-over matplotlib figure; they hold no state.

The :class:`Panel` and the house controls live in :mod:`halab.widgets.core`; each lesson's
drawing functions and panels live in their own module, ``halab.widgets.lessonNN``, and are
re-exported here, so a lesson imports them as ``from halab.widgets import timeline_panel``. A
drawing function is named ``draw_<what>`` and its panel ``<what>_panel``. This package is the
only place that imports ipywidgets; it and :mod:`halab.plots` are the only ones that draw.
"""

from __future__ import annotations

from halab.widgets.core import RENDER_DPI, Panel, choice, int_slider, slider
from halab.widgets.drills import (
    DRILL_COLORS,
    DRILL_MARKS,
    draw_drills,
    draw_leader_failover,
    drill_series,
)
from halab.widgets.lesson01 import (
    HOURS_PER_YEAR,
    budget_panel,
    draw_budget,
    draw_timeline,
    timeline_panel,
)
from halab.widgets.lesson02 import (
    common_cause_panel,
    draw_common_cause,
    draw_failover,
    draw_structures,
    failover_panel,
    structures_panel,
)
from halab.widgets.lesson03 import (
    LB_LOADS,
    LB_POLICIES,
    LB_TAIL,
    balancer_panel,
    draw_balancer,
    draw_keys_moved,
    draw_policies,
    draw_stale,
)
from halab.widgets.lesson04 import (
    FD_DELAY,
    FD_SUSPECT,
    FD_THRESHOLDS,
    FD_TIMEOUTS,
    FD_WINDOW,
    adaptation_panel,
    draw_adaptation,
    draw_gc_pause,
    draw_heartbeats,
    draw_qos,
    draw_settings,
    draw_tradeoff,
    gc_pause_panel,
    heartbeats_panel,
    qos_panel,
    settings_panel,
    tradeoff_panel,
)
from halab.widgets.lesson05 import (
    ARROW_LIMIT,
    FIGURE_9_8,
    HEARTBEATS,
    PUBLISHED_9_8,
    ROLE_COLORS,
    SPLIT_LATENCIES,
    SPLIT_SCENARIOS,
    ClusterPanel,
    cluster_panel,
    draw_cluster,
    draw_split_brain,
    draw_split_votes,
    draw_time_to_elect,
    draw_timing,
    split_brain_panel,
    timeouts_panel,
    timing_panel,
)
from halab.widgets.lesson06 import (
    LIVE_MARKS,
    LivePanel,
    detection_panel,
    draw_compare,
    draw_detection,
    draw_detection_sweep,
    draw_drill,
    draw_traffic,
    live_panel,
)
from halab.widgets.lesson07 import (
    REP_FAILOVER,
    REP_LAGS,
    REP_PARTITION_AT,
    REP_TIMES,
    draw_quorum,
    draw_replication,
    quorum_panel,
    replication_panel,
)
from halab.widgets.lesson08 import (
    MTTR_COLORS,
    SECONDS_PER_HOUR,
    backoff_panel,
    crash_loop_panel,
    crash_loop_theory,
    draw_backoff,
    draw_crash_loop,
    draw_mttr,
    draw_warm_up,
    mttr_panel,
    warm_up_panel,
)
from halab.widgets.lesson09 import (
    BALANCER_COLORS,
    PRODUCTION_MARKS,
    SLOW_SECONDS,
    draw_drill_numbers,
    draw_production,
    draw_windows,
    windows_panel,
)
from halab.widgets.lesson10 import design_panel, draw_capstone_drill, draw_design
from halab.widgets.table import table

__all__ = [
    "DRILL_COLORS",
    "DRILL_MARKS",
    "draw_drills",
    "draw_leader_failover",
    "drill_series",
    "table",
    "draw_stale",
    "Panel",
    "RENDER_DPI",
    "choice",
    "int_slider",
    "slider",
    "HOURS_PER_YEAR",
    "budget_panel",
    "draw_budget",
    "draw_timeline",
    "timeline_panel",
    "common_cause_panel",
    "draw_common_cause",
    "draw_failover",
    "draw_structures",
    "failover_panel",
    "structures_panel",
    "LB_LOADS",
    "LB_POLICIES",
    "LB_TAIL",
    "balancer_panel",
    "draw_balancer",
    "draw_keys_moved",
    "draw_policies",
    "FD_DELAY",
    "FD_SUSPECT",
    "FD_THRESHOLDS",
    "FD_TIMEOUTS",
    "FD_WINDOW",
    "adaptation_panel",
    "draw_adaptation",
    "draw_gc_pause",
    "draw_heartbeats",
    "draw_qos",
    "draw_settings",
    "draw_tradeoff",
    "gc_pause_panel",
    "heartbeats_panel",
    "qos_panel",
    "settings_panel",
    "tradeoff_panel",
    "ARROW_LIMIT",
    "ClusterPanel",
    "FIGURE_9_8",
    "HEARTBEATS",
    "PUBLISHED_9_8",
    "ROLE_COLORS",
    "SPLIT_LATENCIES",
    "SPLIT_SCENARIOS",
    "cluster_panel",
    "draw_cluster",
    "draw_split_brain",
    "draw_split_votes",
    "draw_time_to_elect",
    "draw_timing",
    "split_brain_panel",
    "timeouts_panel",
    "timing_panel",
    "LIVE_MARKS",
    "LivePanel",
    "detection_panel",
    "draw_compare",
    "draw_detection",
    "draw_detection_sweep",
    "draw_drill",
    "draw_traffic",
    "live_panel",
    "REP_FAILOVER",
    "REP_LAGS",
    "REP_PARTITION_AT",
    "REP_TIMES",
    "draw_quorum",
    "draw_replication",
    "quorum_panel",
    "replication_panel",
    "MTTR_COLORS",
    "SECONDS_PER_HOUR",
    "backoff_panel",
    "crash_loop_panel",
    "crash_loop_theory",
    "draw_backoff",
    "draw_crash_loop",
    "draw_mttr",
    "draw_warm_up",
    "mttr_panel",
    "warm_up_panel",
    "BALANCER_COLORS",
    "PRODUCTION_MARKS",
    "SLOW_SECONDS",
    "draw_drill_numbers",
    "draw_production",
    "draw_windows",
    "windows_panel",
    "design_panel",
    "draw_capstone_drill",
    "draw_design",
]
