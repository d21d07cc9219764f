"""Exercise 09: halab's settings in HAProxy's and nginx's own words.

Write the bodies of the functions below (replace each ``raise NotImplementedError``). Check your
work with ``check("ex09")`` in lesson 09, or ``make grade EX=ex09`` in a terminal. Use only the
standard library (``math.ceil`` helps).

Times in halab are seconds (floats). Both servers read a bare number as milliseconds (HAProxy) or
seconds (nginx), so always write the unit: ``200ms``, ``1s``.
"""

import math


def haproxy_server_line(name, port, inter, rise, fall, weight=1):
    """HAProxy's ``server`` line for a backend on 127.0.0.1, with active health checks.

    The words, in this order: ``server``, the name, ``127.0.0.1:<port>``, ``weight <w>``,
    ``check`` (without it HAProxy runs no checks at all, whatever ``inter`` says), ``inter`` in
    whole milliseconds with the unit, ``rise``, ``fall``.

    ``haproxy_server_line("b0", 8001, 0.2, 2, 3)`` is
    ``"server b0 127.0.0.1:8001 weight 1 check inter 200ms rise 2 fall 3"``.

    Args:
        name: the backend's name, e.g. ``"b0"``.
        port: its port on 127.0.0.1.
        inter: seconds between health checks.
        rise: passed checks in a row that bring a DOWN server UP.
        fall: failed checks in a row that take an UP server DOWN.
        weight: the server's share of the traffic, an integer from 1 to 256.
    """
    ### BEGIN SOLUTION
    ms = max(1, round(inter * 1000))
    return (
        f"server {name} 127.0.0.1:{port} weight {weight} check inter {ms}ms rise {rise} fall {fall}"
    )
    ### END SOLUTION


def nginx_retry_lines(retries, retry_on_5xx=True):
    """nginx's retry directives for halab's ``retries`` and ``retry_on_5xx``, as a list.

    With retries: ``proxy_next_upstream error timeout;`` (adding ``http_500 http_502 http_503
    http_504`` before the ``;`` when ``retry_on_5xx``), then ``proxy_next_upstream_tries N;``
    where N counts every try, the first included. Never add ``non_idempotent``: a POST that
    reached a backend must not be sent again. Without retries, the single line
    ``proxy_next_upstream off;`` (beware: ``proxy_next_upstream_tries 0`` means no limit).

    ``nginx_retry_lines(2)`` is ``["proxy_next_upstream error timeout http_500 http_502
    http_503 http_504;", "proxy_next_upstream_tries 3;"]``.

    Args:
        retries: how many other backends a failed request may try, an integer >= 0.
        retry_on_5xx: also retry answers 500, 502, 503 and 504.
    """
    ### BEGIN SOLUTION
    if retries == 0:
        return ["proxy_next_upstream off;"]
    on = "error timeout"
    if retry_on_5xx:
        on += " http_500 http_502 http_503 http_504"
    return [f"proxy_next_upstream {on};", f"proxy_next_upstream_tries {retries + 1};"]
    ### END SOLUTION


def nginx_time_out(fail_timeout, disabled_at):
    """When nginx tries a disabled backend again, in seconds, on its clock of whole seconds.

    nginx writes ``fail_timeout`` in whole seconds (round a fractional one up; at least 1). It
    keeps a backend out while ``now - checked <= fail_timeout``, where ``now`` and ``checked``
    are whole seconds: ``checked`` is ``floor(disabled_at)``. So the first moment the backend
    may be chosen again is ``floor(disabled_at) + F + 1``.

    ``nginx_time_out(1.0, 10.3)`` is ``12.0``: out for 1.7 s, not 1 s.

    Args:
        fail_timeout: halab's ``base_ejection_time``, seconds (> 0).
        disabled_at: when nginx disabled the backend, seconds on the clock.
    """
    ### BEGIN SOLUTION
    f = max(1, math.ceil(fail_timeout))
    return float(math.floor(disabled_at) + f + 1)
    ### END SOLUTION
