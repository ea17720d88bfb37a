"""Dates for rates instruments: tenors, day counts, business days and schedules.

All dates are :class:`datetime.date`.  Year fractions are in years (the unit of
the day-count basis); tenors are strings ``'<n><unit>'`` with unit ``D`` (days),
``W`` (weeks), ``M`` (months) or ``Y`` (years).

Conventions implemented (names as accepted by the functions):

* day counts ``'ACT/360'``, ``'ACT/365F'`` and ``'30/360'`` (bond basis, ISDA
  2006 4.16(f), QuantLib ``Thirty360(Thirty360.BondBasis)``);
* business-day conventions ``'F'`` (following), ``'MF'`` (modified following),
  ``'P'`` (preceding) and ``'U'`` (unadjusted); Saturdays and Sundays are
  holidays, plus an optional set of holiday dates;
* schedules generated backward from the end date (short front stub, the rule
  used for swaps; QuantLib ``DateGeneration.Backward``) or forward from the
  start (short back stub).  Month arithmetic clips to the month end
  (31 Jan + 1M = 28/29 Feb); by default there is **no end-of-month rule**: 28 Feb
  + 1M is 28 Mar, not 31 Mar (QuantLib with ``endOfMonth=False``); with
  ``schedule(..., eom=True)`` a schedule anchored on a month end rolls on month
  ends (QuantLib ``endOfMonth=True``);
* payment lags in business days (:func:`add_business_days`).

Examples
--------
>>> from datetime import date
>>> parse_tenor("3M"), add_tenor(date(2024, 1, 31), "1M")
((3, 'M'), datetime.date(2024, 2, 29))
>>> round(year_fraction(date(2024, 1, 31), date(2024, 3, 31), "30/360"), 10)
0.1666666667
>>> adjust(date(2024, 3, 30), "MF")      # Saturday, following is in April
datetime.date(2024, 3, 29)
>>> [str(d) for d in schedule(date(2024, 1, 15), date(2025, 1, 15), "6M")]
['2024-01-15', '2024-07-15', '2025-01-15']
"""
from __future__ import annotations

import calendar as _cal
import re
from datetime import date, timedelta

__all__ = ["DAY_COUNTS", "CONVENTIONS", "parse_tenor", "add_tenor", "year_fraction",
           "is_business_day", "adjust", "schedule", "is_end_of_month", "end_of_month",
           "add_business_days"]

DAY_COUNTS = ("ACT/360", "ACT/365F", "30/360")
CONVENTIONS = ("F", "MF", "P", "U")
_TENOR = re.compile(r"^\s*(\d+)\s*([DWMY])\s*$", re.IGNORECASE)


def parse_tenor(tenor: str) -> tuple[int, str]:
    """Split a tenor such as ``'3M'`` into ``(3, 'M')``.

    Parameters
    ----------
    tenor : str
        ``'<n><unit>'``, unit one of D, W, M, Y (case-insensitive), ``n >= 0``.

    Returns
    -------
    (int, str)
        Count and upper-case unit.

    Raises
    ------
    ValueError
        For anything else, naming the tenor.

    Examples
    --------
    >>> parse_tenor("1w"), parse_tenor("10Y")
    ((1, 'W'), (10, 'Y'))
    """
    m = _TENOR.match(str(tenor))
    if not m:
        raise ValueError(f"bad tenor {tenor!r}: expected '<n>D', '<n>W', '<n>M' or '<n>Y'")
    return int(m.group(1)), m.group(2).upper()


def _add_months(d: date, n: int) -> date:
    m0 = d.year * 12 + (d.month - 1) + n
    y, m = divmod(m0, 12)
    last = _cal.monthrange(y, m + 1)[1]
    return date(y, m + 1, min(d.day, last))


def add_tenor(d: date, tenor: str, times: int = 1) -> date:
    """Unadjusted ``d + times * tenor`` (months clipped to the month end).

    Examples
    --------
    >>> add_tenor(date(2024, 8, 31), "6M"), add_tenor(date(2024, 1, 1), "1W", 3)
    (datetime.date(2025, 2, 28), datetime.date(2024, 1, 22))
    """
    n, unit = parse_tenor(tenor)
    n *= times
    if unit == "D":
        return d + timedelta(days=n)
    if unit == "W":
        return d + timedelta(weeks=n)
    return _add_months(d, n if unit == "M" else 12 * n)


def tenor_months(tenor: str) -> float:
    """Approximate length of a tenor in months (for ordering and checks only).

    Examples
    --------
    >>> tenor_months("1Y"), round(tenor_months("2W"), 4)
    (12.0, 0.4603)
    """
    n, unit = parse_tenor(tenor)
    return float(n) * {"D": 12 / 365.0, "W": 7 * 12 / 365.0, "M": 1.0, "Y": 12.0}[unit]


def year_fraction(d1: date, d2: date, basis: str) -> float:
    """Year fraction from ``d1`` to ``d2`` in the day-count ``basis``, in years.

    ``'ACT/360'``: days / 360; ``'ACT/365F'``: days / 365; ``'30/360'`` bond
    basis: ``D1 = min(D1, 30)``; ``D2 = 30`` if ``D2 == 31`` and ``D1 >= 30``.
    Negative when ``d2 < d1`` (except 30/360, which is not antisymmetric at
    month ends).

    Examples
    --------
    >>> year_fraction(date(2024, 1, 1), date(2024, 7, 1), "ACT/360")
    0.5055555555555555
    """
    b = str(basis).upper()
    if b == "ACT/360":
        return (d2 - d1).days / 360.0
    if b in ("ACT/365F", "ACT/365"):
        return (d2 - d1).days / 365.0
    if b == "30/360":
        dd1, dd2 = d1.day, d2.day
        if dd1 == 31:
            dd1 = 30
        if dd2 == 31 and dd1 >= 30:
            dd2 = 30
        return (360 * (d2.year - d1.year) + 30 * (d2.month - d1.month) + dd2 - dd1) / 360.0
    raise ValueError(f"unknown day count {basis!r}; known: {', '.join(DAY_COUNTS)}")


def is_business_day(d: date, holidays=frozenset()) -> bool:
    """True unless ``d`` is a Saturday, a Sunday or in ``holidays``.

    Examples
    --------
    >>> is_business_day(date(2024, 12, 25)), is_business_day(date(2024, 12, 25), {date(2024, 12, 25)})
    (True, False)
    """
    return d.weekday() < 5 and d not in holidays


def _month_end(d: date) -> date:
    return date(d.year, d.month, _cal.monthrange(d.year, d.month)[1])


def end_of_month(d: date, holidays=frozenset()) -> date:
    """The last business day of ``d``'s month (QuantLib ``Calendar::endOfMonth``).

    Examples
    --------
    >>> end_of_month(date(2024, 8, 5))        # 31 Aug 2024 is a Saturday
    datetime.date(2024, 8, 30)
    """
    return adjust(_month_end(d), "P", holidays)


def is_end_of_month(d: date, holidays=frozenset()) -> bool:
    """True if ``d`` is on or after the last business day of its month (QuantLib
    ``Calendar::isEndOfMonth``).

    Examples
    --------
    >>> is_end_of_month(date(2024, 8, 30)), is_end_of_month(date(2024, 8, 29))
    (True, False)
    """
    return adjust(d + timedelta(days=1), "F", holidays).month != d.month


def add_business_days(d: date, n: int, holidays=frozenset()) -> date:
    """``d`` moved forward by ``n >= 0`` business days (weekends and ``holidays``
    skipped); ``n = 0`` returns ``d`` (QuantLib ``Calendar::advance(d, n, Days)`` for
    n > 0).

    Examples
    --------
    >>> add_business_days(date(2024, 6, 28), 2)      # a Friday
    datetime.date(2024, 7, 2)
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"business-day lag must be >= 0, got {n}")
    out = d
    while n > 0:
        out += timedelta(days=1)
        while not is_business_day(out, holidays):
            out += timedelta(days=1)
        n -= 1
    return out


def adjust(d: date, convention: str = "MF", holidays=frozenset()) -> date:
    """Move ``d`` to a business day by ``convention`` (F, MF, P or U).

    Modified following rolls forward unless that leaves the month, then rolls
    back.

    Examples
    --------
    >>> adjust(date(2024, 6, 1), "F"), adjust(date(2024, 6, 1), "P")
    (datetime.date(2024, 6, 3), datetime.date(2024, 5, 31))
    """
    c = str(convention).upper()
    if c == "U":
        return d
    if c not in CONVENTIONS:
        raise ValueError(f"unknown business-day convention {convention!r}; known: "
                         f"{', '.join(CONVENTIONS)}")
    step = -1 if c == "P" else 1
    out = d
    while not is_business_day(out, holidays):
        out += timedelta(days=step)
    if c == "MF" and out.month != d.month:
        out = d
        while not is_business_day(out, holidays):
            out -= timedelta(days=1)
    return out


def schedule(start: date, end: date, tenor: str, convention: str = "MF",
             holidays=frozenset(), *, backward: bool = True,
             end_convention: str | None = None, eom: bool = False) -> list[date]:
    """Adjusted period boundaries from ``start`` to ``end`` every ``tenor``.

    Unadjusted dates are ``end - i * tenor`` (backward) or ``start + i * tenor``
    (forward), always counted from the anchor date (no drift through short
    months); a stub, if any, is at the front (backward) or back (forward).
    Dates are then adjusted with ``convention`` (the last one with
    ``end_convention``, default the same) and duplicates from adjustment are
    dropped.

    End-of-month rule (``eom=True``, QuantLib ``endOfMonth=True``; month and year
    tenors): when the anchor (``end`` backward, ``start`` forward) is on or after
    the last business day of its month, the unadjusted dates are month ends (if the
    anchor is its month's last calendar day) and every inner date is moved to its
    month's last calendar day, then adjusted by ``convention`` (MF / P: the last
    business day); the first and last dates are adjusted as without the rule.

    Returns
    -------
    list of date
        ``[start', d1', ..., end']``, at least two dates.

    Examples
    --------
    >>> [str(d) for d in schedule(date(2024, 1, 15), date(2024, 12, 15), "3M")]
    ['2024-01-15', '2024-03-15', '2024-06-17', '2024-09-16', '2024-12-16']
    """
    if end <= start:
        raise ValueError(f"schedule end {end} is not after start {start}")
    n, unit = parse_tenor(tenor)
    if n <= 0:
        raise ValueError(f"schedule tenor must be positive, got {tenor!r}")
    seed = end if backward else start
    flag = bool(eom) and unit in ("M", "Y")
    roll = flag and _month_end(seed) == seed    # dates generated on calendar month ends
    eom = flag and is_end_of_month(seed, holidays)
    raw = []
    if backward:
        i = 0
        while True:
            d = add_tenor(end, tenor, -i)
            d = _month_end(d) if roll else d
            if d <= start:
                break
            raw.append(d)
            i += 1
        raw.append(start)
        raw.reverse()
    else:
        i = 0
        while True:
            d = add_tenor(start, tenor, i)
            d = _month_end(d) if roll and i else d
            if d >= end:
                break
            raw.append(d)
            i += 1
        if len(raw) > 1 and adjust(raw[-1], end_convention or convention, holidays) == \
                adjust(end, end_convention or convention, holidays):
            raw.pop()          # the last regular date is the end once adjusted (QuantLib)
        raw.append(end)
    conv_end = end_convention or convention
    out = [adjust(raw[0], convention, holidays)]
    if eom:      # inner dates: their month's last day, adjusted
        out += [adjust(_month_end(d), convention, holidays) for d in raw[1:-1]]
    else:
        out += [adjust(d, convention, holidays) for d in raw[1:-1]]
    out.append(adjust(raw[-1], conv_end, holidays))
    while len(out) > 2 and out[-2] >= out[-1]:   # EOM moves can reach the ends
        out.pop(-2)
    while len(out) > 2 and out[1] <= out[0]:
        out.pop(1)
    dedup = [out[0]]
    for d in out[1:]:
        if d > dedup[-1]:
            dedup.append(d)
    return dedup
