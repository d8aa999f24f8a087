"""Calendar dates as people write them, found in free text (pure code: no I/O, no clock).

The course leaves the date's form open, so a reply to ``SEND_DATE`` may read
``2026-11-28``, ``28-11-2026``, ``28/11/2026``, ``28.11.26``, ``28 Nov 2026``,
``November 28, 2026`` or ``Sat Nov 28 20:46:46 2026``. Both the lab's client
(is this reply a date?) and the checker (is it today?) read dates with
:func:`find_dates`.
"""

from __future__ import annotations

import datetime as dt
import re

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<mon>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"

#: Numeric dates: year first, or day/month first (both orders are tried, so
#: 05/11/2026 matches either 5 Nov or 11 May: a wrong date rarely fits both).
YMD_RE = re.compile(r"(?<!\d)(?P<year>\d{4})[-/.](?P<a>\d{1,2})[-/.](?P<b>\d{1,2})(?!\d)")
DMY_RE = re.compile(r"(?<!\d)(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<year>\d{4}|\d{2})(?!\d)")
#: Dates with a month name: "25 Nov 2026", "25th of November, 2026", "November 25, 2026",
#: and time.ctime()'s "Wed Nov 25 20:46:46 2026".
DAY_MONTH_RE = re.compile(rf"(?<!\d){_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}", re.IGNORECASE)
MONTH_DAY_RE = re.compile(
    rf"\b{_MONTH}\s+{_DAY},?\s+(?:\d{{1,2}}:\d{{2}}(?::\d{{2}})?\s+)?{_YEAR}",
    re.IGNORECASE,
)


def _valid_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _full_year(text: str) -> int:
    year = int(text)
    return year + 2000 if len(text) == 2 else year


def find_dates(text: str) -> list[dt.date]:
    """Every calendar date written in ``text``, in any of the forms people use."""
    found: list[dt.date | None] = []
    for m in YMD_RE.finditer(text):
        found.append(_valid_date(int(m["year"]), int(m["a"]), int(m["b"])))
    for m in DMY_RE.finditer(text):
        year, a, b = _full_year(m["year"]), int(m["a"]), int(m["b"])
        found += [_valid_date(year, b, a), _valid_date(year, a, b)]
    for rx in (DAY_MONTH_RE, MONTH_DAY_RE):
        for m in rx.finditer(text):
            found.append(_valid_date(int(m["year"]), MONTHS[m["mon"].lower()], int(m["day"])))
    return [d for d in dict.fromkeys(found) if d is not None]
