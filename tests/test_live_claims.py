"""halab.live.claims: an attempt the balancer gave up is not run; a retry of a request that
ran is answered without running it again (tests/test_live_chaos.py checks the whole cluster)."""

from __future__ import annotations

import http.client
import json
import time

from halab.live import claims
from halab.live.backend import BackendServer


def test_one_claim_wins_and_the_loser_backs_off(tmp_path):
    tag = claims.attempt_tag(1)
    assert claims.claim(str(tmp_path), "r-1", tag) is True
    assert claims.claim(str(tmp_path), "r-1", tag) is False
    assert claims.claim(str(tmp_path), "r-1", claims.attempt_tag(2)) is True  # another attempt
    c = claims.Claim(str(tmp_path), "r-2", tag)
    assert c.give_up() is True and c.give_up() is True  # remembered, not claimed again
    backend_first = claims.Claim(str(tmp_path), "r-3", tag)
    assert claims.claim(str(tmp_path), "r-3", tag) is True
    assert backend_first.give_up() is False


def test_age_of_a_tag():
    assert not claims.is_old(claims.attempt_tag(1))
    assert claims.is_old(claims.attempt_tag(1, time.monotonic() - 1.0))
    assert claims.is_old("garbage")


def _get(port, rid, tag):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/x", headers={"X-Request-Id": rid, claims.ATTEMPT_HEADER: tag})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    return resp.status, body


def test_the_backend_honours_the_claims(tmp_path):
    ledger = tmp_path / "b0.ids"
    server = BackendServer("b0", ledger=str(ledger)).start()
    try:
        port = server.server_address[1]
        folder = str(tmp_path / "claims")
        late = claims.attempt_tag(1, time.monotonic() - 1.0)
        assert claims.claim(folder, "given-up", late)  # the balancer gave it up first
        status, body = _get(port, "given-up", late)
        assert status == 503 and "gave this attempt up" in body["error"]
        status, _ = _get(port, "late", claims.attempt_tag(1, time.monotonic() - 1.0))
        assert status == 200  # late, claimed by the backend, run
        assert claims.claim(folder, "late", late) is False
        status, body = _get(port, "late", claims.attempt_tag(2))  # a retry of what ran
        assert status == 200 and body.get("replayed") is True
        lines = ledger.read_text().split()
        assert lines.count("late") == 1 and "given-up" not in lines
        assert claims.ran_before(str(tmp_path), "late")
        assert not claims.ran_before(str(tmp_path), "given-up")
    finally:
        server.stop()
