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
    ### BEGIN SOLUTION
    a_app = sum(
        math.comb(app_servers, i) * a_server**i * (1 - a_server) ** (app_servers - i)
        for i in range(app_needed, app_servers + 1)
    )
    return a_balancer * a_app * a_database
    ### END SOLUTION


def yearly_downtime_minutes(a):
    """Minutes a year that availability ``a`` leaves the service down, on average."""
    ### BEGIN SOLUTION
    return (1 - a) * MINUTES_PER_YEAR
    ### END SOLUTION


def monthly_budget_left(slo, minutes_down):
    """Minutes of the month's error budget left after ``minutes_down`` minutes of downtime.

    Args:
        slo: the availability objective for a 30-day month, e.g. 0.9995.
        minutes_down: downtime so far this month, minutes.

    Returns:
        The budget's minutes minus those spent (negative when overspent).
    """
    ### BEGIN SOLUTION
    return (1 - slo) * MINUTES_PER_MONTH - minutes_down
    ### END SOLUTION


def writes_lost_per_failover(mode, write_rate, lag, cut_for=0.0, timeout=10.0):
    """Acknowledged writes a database failover loses, on average.

    The primary crashes ``cut_for`` seconds after its link to every backup broke (0: a plain
    crash, the link was fine).

    - "sync": nothing; the primary acknowledges no write a backup does not hold (it stalls).
    - "async": the backup trails by ``lag``: the writes of the last ``lag`` seconds before the
      cut, and every write acknowledged after it.
    - "semisync": nothing while ``cut_for <= timeout`` (the writes wait for a backup and are
      never acknowledged). After ``timeout`` the primary falls back to asynchronous
      replication, as MySQL's ``rpl_semi_sync_source_timeout`` does: it acknowledges the
      writes that were waiting and every later one, so every write since the cut is lost.

    Args:
        mode: "sync", "semisync" or "async" replication.
        write_rate: writes acknowledged per second (Poisson).
        lag: seconds the asynchronous backup trails the leader.
        cut_for: seconds between the cut and the crash, >= 0.
        timeout: semi-sync's wait for a backup before it falls back, seconds.
    """
    ### BEGIN SOLUTION
    if mode == "async":
        return write_rate * (cut_for + lag)
    if mode == "semisync" and cut_for > timeout:
        return write_rate * cut_for
    return 0.0
    ### END SOLUTION
