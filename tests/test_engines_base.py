"""halab.live.engines._base and halab.live.guard: nodes under guards, kill, revive, no leak.

The engine here is a trivial one: each node is ``python -m http.server`` on its own port. The
tests marked ``live`` start real processes; they need nothing but Python.
"""

from __future__ import annotations

import gc
import math
import os
import socket
import subprocess
import sys
import time

import pytest

import halab.live.engines as engines
import halab.live.engines._base as base
from halab.live._proc import LOOPBACK, child_env
from halab.live.engines import Engine, EngineMissing, Footprint, available, kill_parent
from halab.live.engines._base import listening


class HttpNodes(Engine):
    """Each node an ``http.server`` serving its own folder."""

    programs = ()
    stop_grace = 0.5

    def _command(self, i):
        return [sys.executable, "-m", "http.server", "--bind", LOOPBACK, str(self.port(i))]


class Quitter(HttpNodes):
    """A node that exits at once: the engine cannot start."""

    def _command(self, i):
        return [sys.executable, "-c", "import sys; print('no luck'); sys.exit(4)"]


class Missing(Engine):
    programs = ("halab-no-such-program",)
    apt = "halab-no-such-package"
    brew = "halab-no-such-formula"


# -- no process needed ---------------------------------------------------------------------------


@pytest.mark.parametrize("nodes", [0, 10, 2.5, math.nan, True, "3"])
def test_bad_node_counts(nodes):
    with pytest.raises(ValueError, match="nodes"):
        HttpNodes(nodes=nodes)


@pytest.mark.parametrize("timeout", [0, -1, math.inf, math.nan, 601])
def test_bad_start_timeouts(timeout):
    with pytest.raises(ValueError, match="start_timeout"):
        HttpNodes(nodes=1, start_timeout=timeout)


def test_a_missing_program_says_how_to_install():
    with pytest.raises(EngineMissing, match="apt-get install halab-no-such-package") as info:
        Missing()
    assert "brew install halab-no-such-formula" in str(info.value)
    assert isinstance(info.value, RuntimeError)


def test_available_names_every_engine():
    found = available()
    assert list(found) == list(engines.ENGINES)
    assert all(isinstance(v, bool) for v in found.values())
    missing = [name for name, ok in found.items() if not ok]
    for name in missing:
        assert name in found.message
    assert bool(found.message) == bool(missing)


def test_free_ports_are_distinct():
    ports = base.free_ports(20)
    assert len(set(ports)) == 20


def test_unknown_event_kind_is_refused():
    engine = HttpNodes(nodes=1)
    with pytest.raises(ValueError, match="kind"):
        engine.emit("exploded")


def test_the_guard_needs_a_folder():
    out = subprocess.run(
        [sys.executable, "-m", "halab.live.guard"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=30,
    )
    assert out.returncode == 2 and "usage" in out.stderr


# -- live: real processes ------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.engine
def test_kill_revive_stop_leaves_nothing():
    with HttpNodes(nodes=3) as engine:
        assert engine.start_s is not None and all(engine.alive(i) for i in range(3))
        assert len(engine.pids) == 7  # 3 nodes, 3 guards, the folder guard
        assert oct(os.stat(engine.tmpdir).st_mode & 0o777) == "0o700"
        data = engine.node_dir(1) / "data.txt"
        data.write_text("kept")
        old = engine.pid(1)
        port = engine.port(1)
        engine.kill(1)
        assert not engine.alive(1) and not listening(port)
        assert data.read_text() == "kept"  # a crash keeps the node's files
        assert len(engine.pids) == 5
        engine.revive(1)
        assert engine.pid(1) not in (None, old) and engine.port(1) == port and listening(port)
        assert data.read_text() == "kept"
        with pytest.raises(RuntimeError, match="running"):
            engine.revive(1)
        with pytest.raises(ValueError, match="i must be"):
            engine.kill(3)
        footprint = Footprint.of(engine)
    assert footprint.wait_gone(10) == []
    kinds = [e.kind for e in engine.timeline]
    assert kinds == ["ready", "kill", "revive", "stop"]
    times = [e.t for e in engine.timeline]
    assert times == sorted(times) and times[0] > 0
    engine.stop()  # idempotent
    with pytest.raises(RuntimeError, match="already started"):
        engine.start()


@pytest.mark.live
@pytest.mark.engine
def test_a_node_that_cannot_start_leaves_nothing():
    engine = Quitter(nodes=2, start_timeout=20)
    with pytest.raises(RuntimeError, match="did not start.*no luck"):
        engine.start()
    assert engine.pids == [] and not os.path.exists(engine.tmpdir)


@pytest.mark.live
@pytest.mark.engine
def test_a_taken_port_is_retried_on_fresh_ones(monkeypatch):
    blocker = socket.socket()
    blocker.bind((LOOPBACK, 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    real = base.free_ports
    calls = []

    def first_taken(n):
        calls.append(n)
        ports = real(n)
        return [taken, *ports[1:]] if len(calls) == 1 else ports

    monkeypatch.setattr(base, "free_ports", first_taken)
    try:
        with HttpNodes(nodes=2) as engine:
            assert len(calls) == 2 and taken not in engine.all_ports()
            assert any("fresh ports" in e.detail for e in engine.timeline)
            footprint = Footprint.of(engine)
    finally:
        blocker.close()
    assert footprint.wait_gone(10) == []


@pytest.mark.live
@pytest.mark.engine
def test_an_error_in_the_block_stops_everything():
    with pytest.raises(KeyboardInterrupt), HttpNodes(nodes=2) as engine:
        footprint = Footprint.of(engine)
        raise KeyboardInterrupt
    assert footprint.wait_gone(10) == []


@pytest.mark.live
@pytest.mark.engine
def test_garbage_collection_stops_everything():
    engine = HttpNodes(nodes=2).start()
    footprint = Footprint.of(engine)
    assert footprint.left()
    del engine
    gc.collect()
    assert footprint.wait_gone(10) == []


@pytest.mark.live
@pytest.mark.engine
def test_sigkill_of_the_parent_leaves_nothing():
    started = time.monotonic()
    footprint, left = kill_parent("HttpNodes(nodes=3)", module="tests.test_engines_base", settle=20)
    assert len(footprint.pids) == 7 and len(footprint.ports) == 3
    assert left == [], left
    print(f"\nSIGKILL of the parent: nothing left {time.monotonic() - started:.1f} s after start")
