"""The stretch of time a recall query points at: "yesterday", "last week", "in May", "two days ago".

:func:`time_window` is pure: it takes "now" and the time zone, so recall can lift the memories
said inside the window (sel.memory.recall) and tests can pin any date. Days run from local
midnight to midnight in ``tz``; weeks start on Monday.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

Window = tuple[float, float]  # [start, end) in Unix seconds

_MONTH_NAMES = "jan january|feb february|mar march|apr april|may|jun june|jul july|aug august|sep sept september|"
_MONTH_NAMES += "oct october|nov november|dec december"
_MONTHS = {name: n for n, names in enumerate(_MONTH_NAMES.split("|"), start=1) for name in names.split()}
_WEEKDAYS = {name: i for i, name in enumerate("monday tuesday wednesday thursday friday saturday sunday".split())}
_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "couple": 2}
_COUNT = r"(\d+|a|an|one|two|three|four|five|six|seven|a couple of|couple of)"
_AGO = re.compile(rf"\b{_COUNT}\s+(day|week|month)s?\s+ago\b")
_FEW_AGO = re.compile(r"\b(?:a )?few\s+(day|week)s?\s+ago\b")
_PART_OF_TODAY = {"this morning": (5, 12), "this afternoon": (12, 18), "this evening": (17, 24), "tonight": (17, 24)}
_MONTH = re.compile(r"\b(?:in|during|back in|early|late|since)\s+(" + "|".join(_MONTHS) + r")\b(?:\s+(\d{4}))?")
_WEEKDAY = re.compile(r"\b(?:on|last)\s+(" + "|".join(_WEEKDAYS) + r")\b")


def time_window(query: str, now: float, tz: tzinfo) -> Window | None:
    """The [start, end) that ``query``'s time words name, seen from ``now`` in ``tz``; None if it names none.

    "when did I ..." names no window (the answer is the date itself): it returns None.
    """
    text = " ".join(query.casefold().replace("\u2019", "'").split())
    today = datetime.fromtimestamp(now, tz).date()
    for find in (_parts_of_today, _named_days, _ago, _weeks_and_months, _month, _weekday):
        days = find(text, today)
        if days is not None:
            return _span(days, tz)
    return None


DayRange = tuple[datetime, datetime] | tuple[date, date]  # hours of today, or whole days [first, last]


def _parts_of_today(text: str, today: date) -> DayRange | None:
    for words, (start, end) in _PART_OF_TODAY.items():
        if words in text:
            midnight = datetime.combine(today, time())
            return midnight + timedelta(hours=start), midnight + timedelta(hours=end)
    return None


def _named_days(text: str, today: date) -> DayRange | None:
    if re.search(r"\b(?:yesterday|last night)\b", text):
        return today - timedelta(days=1), today - timedelta(days=1)
    if re.search(r"\btoday\b", text):
        return today, today
    return None


def _ago(text: str, today: date) -> DayRange | None:
    match = _AGO.search(text)
    if match:
        count = _COUNTS.get(match[1].replace(" of", "").replace("a couple", "couple"), 0) or int(match[1])
        days = {"day": 1, "week": 7, "month": 30}[match[2]] * count
        slack = {"day": 0, "week": 3, "month": 10}[match[2]]  # "two weeks ago" is roughly, not to the day
        return today - timedelta(days=days + slack), today - timedelta(days=max(0, days - slack))
    few = _FEW_AGO.search(text)
    if few:
        unit = 1 if few[1] == "day" else 7
        return today - timedelta(days=5 * unit), today - timedelta(days=2 * unit)
    return None


def _weeks_and_months(text: str, today: date) -> DayRange | None:
    monday = today - timedelta(days=today.weekday())
    if re.search(r"\bthis week\b", text):
        return monday, today
    if re.search(r"\blast week\b", text):
        return monday - timedelta(days=7), monday - timedelta(days=1)
    first = today.replace(day=1)
    if re.search(r"\bthis month\b", text):
        return first, today
    if re.search(r"\blast month\b", text):
        last_of_previous = first - timedelta(days=1)
        return last_of_previous.replace(day=1), last_of_previous
    return None


def _month(text: str, today: date) -> DayRange | None:
    match = _MONTH.search(text)
    if not match:
        return None
    month = _MONTHS[match[1]]
    year = int(match[2]) if match[2] else (today.year if month <= today.month else today.year - 1)  # the last May
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    return start, end


def _weekday(text: str, today: date) -> DayRange | None:
    match = _WEEKDAY.search(text)
    if not match:
        return None
    back = (today.weekday() - _WEEKDAYS[match[1]]) % 7 or 7  # the last such day before today
    day = today - timedelta(days=back)
    return day, day


def _span(days: DayRange, tz: tzinfo) -> Window:
    first, last = days
    if isinstance(first, datetime) and isinstance(last, datetime):
        return first.replace(tzinfo=tz).timestamp(), last.replace(tzinfo=tz).timestamp()
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    return start.timestamp(), end.timestamp()
