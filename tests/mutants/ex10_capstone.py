"""Known-wrong answers to exercise 10; the grader must catch each one."""

import math

MINUTES_PER_YEAR = 365 * 24 * 60


def app_tier_as_parallel(a_balancer, a_server, app_servers, app_needed, a_database):
    return a_balancer * (1 - (1 - a_server) ** app_servers) * a_database


def balancer_forgotten(a_balancer, a_server, app_servers, app_needed, a_database):
    a_app = sum(
        math.comb(app_servers, i) * a_server**i * (1 - a_server) ** (app_servers - i)
        for i in range(app_needed, app_servers + 1)
    )
    return a_app * a_database


def tiers_averaged(a_balancer, a_server, app_servers, app_needed, a_database):
    return (a_balancer + a_server + a_database) / 3


def downtime_360_days(a):
    return (1 - a) * 360 * 24 * 60


def budget_of_31_days(slo, minutes_down):
    return (1 - slo) * 31 * 24 * 60 - minutes_down


def budget_spent_as_fraction(slo, minutes_down):
    return 1 - minutes_down / ((1 - slo) * 30 * 24 * 60)


def semisync_loses_like_async(mode, write_rate, lag, cut_for=0.0, timeout=10.0):
    return 0.0 if mode == "sync" else write_rate * (cut_for + lag)


def semisync_never_loses(mode, write_rate, lag, cut_for=0.0, timeout=10.0):
    return write_rate * (cut_for + lag) if mode == "async" else 0.0


def semisync_loses_only_after_the_timeout(mode, write_rate, lag, cut_for=0.0, timeout=10.0):
    if mode == "async":
        return write_rate * (cut_for + lag)
    if mode == "semisync":
        return write_rate * max(0.0, cut_for - timeout)
    return 0.0


def async_ignores_the_cut(mode, write_rate, lag, cut_for=0.0, timeout=10.0):
    if mode == "async":
        return write_rate * lag
    return write_rate * cut_for if mode == "semisync" and cut_for > timeout else 0.0


MUTANTS = {
    "the app tier as plain parallel (ignores how many are needed)": {
        "service_availability": app_tier_as_parallel
    },
    "the balancer tier forgotten": {"service_availability": balancer_forgotten},
    "tiers averaged instead of multiplied": {"service_availability": tiers_averaged},
    "a year of 360 days": {"yearly_downtime_minutes": downtime_360_days},
    "a month of 31 days": {"monthly_budget_left": budget_of_31_days},
    "the budget as a fraction left": {"monthly_budget_left": budget_spent_as_fraction},
    "semi-sync taken to lose writes like async": {
        "writes_lost_per_failover": semisync_loses_like_async
    },
    "semi-sync taken never to lose a write (its timeout forgotten)": {
        "writes_lost_per_failover": semisync_never_loses
    },
    "semi-sync losing only the writes after its timeout": {
        "writes_lost_per_failover": semisync_loses_only_after_the_timeout
    },
    "async losing only its lag after a cut": {"writes_lost_per_failover": async_ignores_the_cut},
}
