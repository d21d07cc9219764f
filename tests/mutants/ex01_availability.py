"""Known-wrong answers to exercise 01, as they circulate; the grader must catch each one.

``MUTANTS`` maps a description to the functions that replace the solution's.
"""

import math

HOURS_PER = {"year": 365 * 24, "month": 30 * 24, "week": 7 * 24, "day": 24}


def availability_one_minus_ratio(mttf, mttr):
    return 1 - mttr / mttf


def availability_over_mtbf(mttf, mttr):
    mtbf = mttf + mttr
    return mtbf / (mtbf + mttr)


def mtbf_is_mttf(mttf, mttr):
    return mttf


def nines_natural_log(a):
    return -math.log(1 - a)


def downtime_in_minutes_per_month(a, period="year"):
    return (1 - a) * 30 * 24 * 60


def downtime_360_day_year(a, period="year"):
    return (1 - a) * {"year": 360 * 24, "month": 30 * 24, "week": 168, "day": 24}[period]


def failure_rate_per_fleet_hour(failures, components, hours):
    return failures / hours


def nines_rounded(a):
    return round(-math.log10(1 - a), 1)


MUTANTS = {
    "availability as 1 - MTTR/MTTF": {"availability": availability_one_minus_ratio},
    "availability as MTBF / (MTBF + MTTR)": {"availability": availability_over_mtbf},
    "MTBF taken to be MTTF": {"mtbf": mtbf_is_mttf},
    "nines with the natural logarithm": {"nines": nines_natural_log},
    "downtime in minutes of a 30-day month": {"downtime_hours": downtime_in_minutes_per_month},
    "a year of 360 days": {"downtime_hours": downtime_360_day_year},
    "failure rate ignoring how many components": {"failure_rate": failure_rate_per_fleet_hour},
    "nines rounded to one decimal": {"nines": nines_rounded},
}

# What the grader must say to each of them (a piece of one of its messages).
MESSAGES = {
    "nines with the natural logarithm": "that is the natural logarithm: nines are counted in base 10",
    "nines rounded to one decimal": "that is a rounded value",
}
