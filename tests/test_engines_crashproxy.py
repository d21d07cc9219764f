"""The crash proxy alone, over plain sockets: delay, in-flight bytes dropped, nothing leaked."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

import pytest

from halab.live.engines.crashproxy import CHUNK, CrashProxy

pytestmark = pytest.mark.live

LOOPBACK = "127.0.0.1"
DEADLINE = 10.0  # seconds: bounded waits on a loaded machine


class Server:
    """A one-connection-at-a-time TCP server on 127.0.0.1 run by a handler, in a thread."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.create_server((LOOPBACK, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with contextlib.suppress(OSError):
            self.handler(conn)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        for c in self.conns:
            c.close()


def echo(conn):
    while data := conn.recv(4096):
        conn.sendall(data)


def wait_until(predicate, timeout=DEADLINE):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def proxy_threads():
    return [t for t in threading.enumerate() if t.name.startswith("crashproxy")]


def open_fds():
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def test_delays_one_way_only():
    delay = 0.3
    arrivals = []

    def stamp_and_echo(conn):
        while data := conn.recv(4096):
            arrivals.append(time.monotonic())
            conn.sendall(data)

    server = Server(stamp_and_echo)
    try:
        with CrashProxy(server.port, delay=delay) as proxy:
            with socket.create_connection((LOOPBACK, proxy.port), timeout=DEADLINE) as c:
                sent = time.monotonic()
                c.sendall(b"ping")
                assert c.recv(4096) == b"ping"
                back = time.monotonic()
            up, round_trip = arrivals[0] - sent, back - sent
            print(
                f"\nclient->target {up * 1000:.1f} ms, round trip {round_trip * 1000:.1f} ms "
                f"(delay {delay * 1000:.0f} ms one way)"
            )
            assert up < delay  # the acknowledgement direction is not delayed
            assert round_trip >= delay
            assert round_trip < delay + 5.0
    finally:
        server.close()


def test_crash_drops_bytes_in_flight_and_resets_both_sides():
    payload = b"x" * 100_000
    target_side = []

    def send_then_wait(conn):
        target_side.append(conn)
        conn.sendall(payload)
        while conn.recv(4096):
            pass

    server = Server(send_then_wait)
    try:
        with CrashProxy(server.port, delay=5.0) as proxy:
            c = socket.create_connection((LOOPBACK, proxy.port), timeout=DEADLINE)
            assert wait_until(lambda: proxy.in_flight() == len(payload))
            assert proxy.connections() == 1
            dropped = proxy.crash()
            assert dropped == len(payload)
            assert proxy.bytes_dropped == len(payload) and proxy.bytes_forwarded == 0
            got = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := c.recv(4096):
                    got += chunk
            assert got == b""  # nothing of what was in flight arrives
            c.close()
            # the target's side is reset too: its reads end
            assert wait_until(lambda: proxy.connections() == 0)
            # the listener survives the crash: a new connection goes through
            with socket.create_connection((LOOPBACK, proxy.port), timeout=DEADLINE):
                assert wait_until(lambda: proxy.in_flight() == len(payload))
                assert proxy.crash() == len(payload)
            assert proxy.crashes == 2
    finally:
        server.close()


def test_delivers_everything_when_the_target_closes_normally():
    payload = os.urandom(300_000)

    def send_and_close(conn):
        conn.sendall(payload)
        conn.close()

    server = Server(send_and_close)
    try:
        with CrashProxy(server.port, delay=0.05) as proxy:
            with socket.create_connection((LOOPBACK, proxy.port), timeout=DEADLINE) as c:
                got = b""
                while chunk := c.recv(65536):
                    got += chunk
            assert got == payload
            assert wait_until(lambda: proxy.bytes_forwarded == len(payload))
    finally:
        server.close()


def test_delay_line_is_bounded():
    def flood(conn):
        block = b"y" * 65536
        with contextlib.suppress(OSError):
            for _ in range(400):  # 25 MiB, far more than the delay line takes
                conn.sendall(block)

    server = Server(flood)
    try:
        with CrashProxy(server.port, delay=5.0, max_in_flight=CHUNK * 4) as proxy:
            c = socket.create_connection((LOOPBACK, proxy.port), timeout=DEADLINE)
            assert wait_until(lambda: proxy.in_flight() >= CHUNK * 4)
            time.sleep(0.3)
            assert proxy.in_flight() < CHUNK * 5  # reads paused: TCP pushes back on the target
            proxy.crash()
            c.close()
    finally:
        server.close()


def test_refused_target_resets_the_client():
    spare = socket.create_server((LOOPBACK, 0))
    port = spare.getsockname()[1]
    spare.close()  # nothing listens there now
    with CrashProxy(port, delay=0.0) as proxy:
        got = b""
        try:  # the reset may come before connect() returns, or at the first read
            with socket.create_connection((LOOPBACK, proxy.port), timeout=DEADLINE) as c:
                got = c.recv(10)
        except ConnectionError:
            pass
        assert got == b""
        assert proxy.connections() == 0


def test_nothing_left_after_close():
    before_fds, before_threads = open_fds(), len(proxy_threads())
    server = Server(echo)
    try:
        proxy = CrashProxy(server.port, delay=0.01).start()
        port = proxy.port
        clients = [socket.create_connection((LOOPBACK, port), timeout=DEADLINE) for _ in range(3)]
        for c in clients:
            c.sendall(b"hi")
            assert c.recv(10) == b"hi"
        assert len(proxy_threads()) == before_threads + 1 + 3 * 3
        proxy.close()
        proxy.close()  # idempotent
        for c in clients:
            c.close()
        assert proxy_threads() == []
        with pytest.raises(OSError):
            socket.create_connection((LOOPBACK, port), timeout=1.0).close()
    finally:
        server.close()
    assert open_fds() <= before_fds


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"target_port": 0}, "target_port"),
        ({"target_port": 70000}, "target_port"),
        ({"target_port": 5000, "delay": -0.1}, "delay"),
        ({"target_port": 5000, "delay": float("nan")}, "delay"),
        ({"target_port": 5000, "delay": float("inf")}, "delay"),
        ({"target_port": 5000, "max_in_flight": 10}, "max_in_flight"),
    ],
)
def test_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        CrashProxy(**kwargs)


def test_freeze_holds_everything_until_the_crash():
    def send_once(conn):
        conn.sendall(b"z" * 1000)
        while conn.recv(4096):
            pass

    server = Server(send_once)
    try:
        with CrashProxy(server.port, delay=0.05) as proxy:
            proxy.freeze()  # the instant of the kill: nothing more is delivered
            c = socket.create_connection((LOOPBACK, proxy.port), timeout=DEADLINE)
            assert wait_until(lambda: proxy.in_flight() == 1000)
            c.settimeout(0.3)  # six times the delay: it would have arrived by now
            with pytest.raises(TimeoutError):
                c.recv(4096)
            assert proxy.crash() == 1000 and not proxy.frozen
            c.close()
    finally:
        server.close()
