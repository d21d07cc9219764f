"""Known-wrong answers to exercise 09; the grader must catch each one."""

import math


def server_line_in_seconds(name, port, inter, rise, fall, weight=1):
    return f"server {name} 127.0.0.1:{port} weight {weight} check inter {inter} rise {rise} fall {fall}"


def server_line_without_check(name, port, inter, rise, fall, weight=1):
    ms = round(inter * 1000)
    return f"server {name} 127.0.0.1:{port} weight {weight} inter {ms}ms rise {rise} fall {fall}"


def server_line_rise_fall_swapped(name, port, inter, rise, fall, weight=1):
    ms = round(inter * 1000)
    return (
        f"server {name} 127.0.0.1:{port} weight {weight} check inter {ms}ms rise {fall} fall {rise}"
    )


def retries_as_tries(retries, retry_on_5xx=True):
    on = "error timeout" + (" http_500 http_502 http_503 http_504" if retry_on_5xx else "")
    return [f"proxy_next_upstream {on};", f"proxy_next_upstream_tries {retries};"]


def zero_tries_for_no_retries(retries, retry_on_5xx=True):
    on = "error timeout" + (" http_500 http_502 http_503 http_504" if retry_on_5xx else "")
    return [
        f"proxy_next_upstream {on};",
        f"proxy_next_upstream_tries {retries + 1 if retries else 0};",
    ]


def retries_non_idempotent(retries, retry_on_5xx=True):
    if retries == 0:
        return ["proxy_next_upstream off;"]
    on = "error timeout" + (" http_500 http_502 http_503 http_504" if retry_on_5xx else "")
    return [
        f"proxy_next_upstream {on} non_idempotent;",
        f"proxy_next_upstream_tries {retries + 1};",
    ]


def retry_on_5xx_ignored(retries, retry_on_5xx=True):
    if retries == 0:
        return ["proxy_next_upstream off;"]
    on = "error timeout http_500 http_502 http_503 http_504"
    return [f"proxy_next_upstream {on};", f"proxy_next_upstream_tries {retries + 1};"]


def time_out_exact(fail_timeout, disabled_at):
    return disabled_at + fail_timeout


def time_out_floor_plus_f(fail_timeout, disabled_at):
    return float(math.floor(disabled_at) + max(1, math.ceil(fail_timeout)))


def time_out_fraction_kept(fail_timeout, disabled_at):
    return float(math.floor(disabled_at) + fail_timeout + 1)


MUTANTS = {
    "inter written in seconds without a unit": {"haproxy_server_line": server_line_in_seconds},
    "the 'check' word left out": {"haproxy_server_line": server_line_without_check},
    "rise and fall swapped": {"haproxy_server_line": server_line_rise_fall_swapped},
    "tries = retries (forgets the first try)": {"nginx_retry_lines": retries_as_tries},
    "no retries written as tries 0 (unlimited)": {"nginx_retry_lines": zero_tries_for_no_retries},
    "POSTs retried (non_idempotent)": {"nginx_retry_lines": retries_non_idempotent},
    "retry_on_5xx ignored": {"nginx_retry_lines": retry_on_5xx_ignored},
    "out for exactly fail_timeout": {"nginx_time_out": time_out_exact},
    "whole seconds, but one second short": {"nginx_time_out": time_out_floor_plus_f},
    "fail_timeout not rounded to whole seconds": {"nginx_time_out": time_out_fraction_kept},
}
