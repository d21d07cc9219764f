"""Exercise 10: the capstone's arithmetic — a service from its tiers, its downtime, its budget.

Write the bodies of the functions below (replace each ``raise NotImplementedError``). Check your
work with ``check("ex10")`` in lesson 10, or ``make grade EX=ex10`` in a terminal. Use only the
standard library.

The service is three tiers in series: a balancer, ``app_servers`` application replicas of
which ``app_needed`` must be up, and a database. Availabilities are floats in [0, 1]; a year has
365 days and a month 30.
"""

import math

MINUTES_PER_YEAR = 365 * 24 * 60
MINUTES_PER_MONTH = 30 * 24 * 60


def service_availability(a_balancer, a_server, app_servers, app_needed, a_database):
    """The whole service's availability.

    Args:
        a_balancer: availability of the balancer tier.
        a_server: availability of one application replica.
        app_servers: how many replicas there are.
        app_needed: how many must be up to carry the load (1 <= app_needed <= app_servers).
        a_database: availability of the database tier.
    """
    raise NotImplementedError("service_availability: your code here")


def yearly_downtime_minutes(a):
    """Minutes a year that availability ``a`` leaves the service down, on average."""
    raise NotImplementedError("yearly_downtime_minutes: your code here")


def monthly_budget_left(slo, minutes_down):
    """Minutes of the month's error budget left after ``minutes_down`` minutes of downtime.

    Args:
        slo: the availability objective for a 30-day month, e.g. 0.9995.
        minutes_down: downtime so far this month, minutes.

    Returns:
        The budget's minutes minus those spent (negative when overspent).
    """
    raise NotImplementedError("monthly_budget_left: your code here")


def writes_lost_per_failover(mode, write_rate, lag):
    """Acknowledged writes a database failover loses, on average.

    Args:
        mode: "sync", "semisync" or "async" replication. A synchronous or semi-synchronous
            backup has every acknowledged write; an asynchronous one trails by ``lag``.
        write_rate: writes acknowledged per second.
        lag: seconds the asynchronous backup trails the leader.
    """
    raise NotImplementedError("writes_lost_per_failover: your code here")
