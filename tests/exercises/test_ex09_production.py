"""Grader for exercise 09 (an HAProxy server line, nginx's retries, nginx's whole-second clock).

The expected words come from the HAProxy 2.6 Configuration Manual (section 5.2: ``check``,
``inter``, ``rise``, ``fall``, ``weight``) and nginx's ngx_http_proxy_module
(``proxy_next_upstream``, ``proxy_next_upstream_tries``) and ngx_http_upstream_round_robin.c.
"""

EXERCISE = "ex09_production"


def words(line):
    assert isinstance(line, str), f"return the line as a string, got {type(line).__name__}"
    return line.split()


def test_haproxy_server_line(ex):
    got = ex.haproxy_server_line("b0", 8001, 0.2, 2, 3)
    want = "server b0 127.0.0.1:8001 weight 1 check inter 200ms rise 2 fall 3"
    assert got == want, (
        f"haproxy_server_line('b0', 8001, 0.2, 2, 3) should be {want!r}, got {got!r}"
    )
    w = words(ex.haproxy_server_line("b2", 9000, 1.5, 4, 5, weight=7))
    assert "check" in w, (
        "the line needs the word 'check': without it HAProxy never checks the server, and inter, "
        "rise and fall do nothing"
    )
    assert w[w.index("inter") + 1] == "1500ms", (
        f"inter 1.5 s is written '1500ms' (a bare number would mean milliseconds), got "
        f"{w[w.index('inter') + 1]!r}"
    )
    assert (w[w.index("rise") + 1], w[w.index("fall") + 1]) == ("4", "5"), (
        f"rise 4 and fall 5 should read 'rise 4 fall 5', got {' '.join(w[-4:])!r}: rise counts "
        "passed checks (back UP), fall counts failed ones (DOWN)"
    )
    assert w[:4] == ["server", "b2", "127.0.0.1:9000", "weight"] and w[4] == "7", (
        f"the line starts 'server b2 127.0.0.1:9000 weight 7', got {' '.join(w[:5])!r}"
    )


def test_nginx_retry_lines(ex):
    got = ex.nginx_retry_lines(2)
    want = [
        "proxy_next_upstream error timeout http_500 http_502 http_503 http_504;",
        "proxy_next_upstream_tries 3;",
    ]
    assert isinstance(got, list), f"return a list of lines, got {type(got).__name__}"
    assert not any("non_idempotent" in line for line in got), (
        "never add non_idempotent: a POST that reached a backend would be executed twice"
    )
    assert got == want, (
        f"2 retries should give {want}, got {got}: proxy_next_upstream_tries counts the first "
        "try too, so 2 retries are 3 tries"
    )
    got = ex.nginx_retry_lines(1, retry_on_5xx=False)
    want = ["proxy_next_upstream error timeout;", "proxy_next_upstream_tries 2;"]
    assert got == want, f"1 retry without retry_on_5xx should give {want}, got {got}"
    got = ex.nginx_retry_lines(0)
    assert got == ["proxy_next_upstream off;"], (
        f"no retries should give ['proxy_next_upstream off;'], got {got}: "
        "proxy_next_upstream_tries 0 means 'no limit', the opposite of what you want"
    )


def test_nginx_time_out(ex):
    got = ex.nginx_time_out(1.0, 10.3)
    assert got == 12.0, (
        f"disabled at 10.3 s with fail_timeout 1 s, nginx tries again at 12.0 s, got {got!r}: "
        "on whole seconds, checked = 10, and 11 - 10 <= 1 still keeps it out"
    )
    got = ex.nginx_time_out(1.0, 10.0)
    assert got == 12.0, f"disabled at exactly 10.0 s: back at 12.0 s (out for 2 s), got {got!r}"
    got = ex.nginx_time_out(2.5, 4.9)
    assert got == 8.0, (
        f"fail_timeout 2.5 s is written 3s (whole seconds, rounded up): disabled at 4.9 s, back "
        f"at 4 + 3 + 1 = 8.0 s, got {got!r}"
    )
    got = ex.nginx_time_out(0.2, 0.5)
    assert got == 2.0, (
        f"fail_timeout is at least 1 s: disabled at 0.5 s, back at 2.0 s, got {got!r}"
    )
