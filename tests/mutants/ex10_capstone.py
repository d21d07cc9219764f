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


def semisync_loses_like_async(mode, write_rate, lag):
    return 0.0 if mode == "sync" else write_rate * lag


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
}
