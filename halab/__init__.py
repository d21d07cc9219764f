"""halab: the machinery of a hands-on course in High Availability.

A five-line tour::

    >>> from halab.availability import availability, nines, downtime
    >>> a = availability(mttf=500, mttr=2)          # hours
    >>> round(a, 4), round(nines(a), 2)
    (0.996, 2.4)
    >>> downtime(0.998, "year")                      # 0.2 % of 365 days
    datetime.timedelta(seconds=63072)

Each concept lives in its own module (``availability``, ``balancing``, ``detection``,
``election``, ``replication``, ``recovery``, ``live``); ``plots`` and ``widgets`` are the
thin drawing layer that the notebooks use, and no model imports them.
"""

__version__ = "0.1.0"
