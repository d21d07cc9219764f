"""Run code in a kernel of a Jupyter server over its REST API and websocket, as JupyterLab does.

Used by ``tests/test_hub.py`` (kernels of learners' servers, reached through JupyterHub's
proxy) and ``benchmarks/bench_learner.py`` (one learner's server, measured). The messages
follow the Jupyter messaging protocol (``execute_request`` on the shell channel; ``stream``,
``error`` and ``status: idle`` on iopub, matched by ``parent_header.msg_id``), in the JSON
form jupyter_server speaks to a websocket client that asks for no subprotocol.
"""

from __future__ import annotations

import json
import socket
import time
import uuid

import requests

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, ok=(200,), headers=None) -> requests.Response:
    """GET ``url`` until it answers one of ``ok``; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = requests.get(url, timeout=5, headers=headers)
            if last.status_code in ok:
                return last
        except requests.RequestException as error:
            last = error
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer {ok} within {timeout} s (last: {last})")


class Kernel:
    """One kernel of the Jupyter server at ``base`` (``http://127.0.0.1:P/user/ana``).

    Args:
        base: the server's URL prefix, without a trailing slash.
        token: an API token the server accepts (``Authorization: token ...``).
    """

    def __init__(self, base: str, token: str, *, timeout: float = 60.0) -> None:
        import websocket  # websocket-client, a dependency of jupyter_server

        self.base, self.headers = base.rstrip("/"), {"Authorization": f"token {token}"}
        reply = requests.post(f"{self.base}/api/kernels", headers=self.headers, timeout=timeout)
        reply.raise_for_status()
        self.id = reply.json()["id"]
        self.session = uuid.uuid4().hex
        url = self.base.replace("http", "ws", 1) + f"/api/kernels/{self.id}/channels"
        self.ws = websocket.create_connection(
            f"{url}?session_id={self.session}", header=self.headers, timeout=timeout
        )

    def run(self, code: str, timeout: float = 120.0) -> str:
        """Execute ``code``; return what it printed; raise RuntimeError with its error."""
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": "halab-test",
                        "session": self.session,
                        "version": "5.3",
                        "date": "",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }
            )
        )
        out, error = [], None
        deadline = time.monotonic() + timeout
        while True:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the kernel did not finish within {timeout} s")
        if error:
            raise RuntimeError(f"{error}\n{''.join(out)}")
        return "".join(out)

    def last_json(self, code: str, timeout: float = 120.0):
        """Run ``code`` and parse the last line it printed as JSON."""
        return json.loads(self.run(code, timeout).strip().splitlines()[-1])

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            requests.delete(f"{self.base}/api/kernels/{self.id}", headers=self.headers, timeout=30)


# What a learner's kernel runs: lesson 06's cluster and drill, with the lesson's arguments.
START_CLUSTER = """
import json
from halab.live import LiveCluster
cluster = LiveCluster(backends=3, policy="round_robin")
cluster.start()
print(json.dumps({"ports": cluster.ports, "url": cluster.url}))
"""
DRILL = """
drill = cluster.drill(victim=1, rate=100, kill_at=1.0, revive_at=2.5, duration=4.0)
print(json.dumps({"failed": int(drill.failed), "requests": len(drill.load)}))
"""
