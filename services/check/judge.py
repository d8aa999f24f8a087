"""Pure judging functions for the checker: no sockets, no clock reads (the time is passed in).

The ``lab`` level accepts what a student may reasonably choose: a date in any
unambiguous form, a time in any clock notation, a result anywhere in the reply
as a number, a notice in any wording. These functions find such things in free
text; the cases decide what to expect (datetime.send-time wants the seconds).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence

# Dates are read the same way by the lab's datetime client; re-exported for the cases.
from services.datetime.dates import find_dates as find_dates

#: How far a reported time may be from the checker's clock: two minutes covers
#: clock skew between hosts and the time a reply takes, and no more.
TIME_TOLERANCE_S = 120
#: A time given without seconds is known only to the minute.
MINUTE_SLACK_S = 60
#: Relative tolerance for a calculator result read at ``lab`` level.
REL_TOLERANCE = 1e-9
ABS_TOLERANCE = 1e-12

SECONDS_PER_DAY = 86400

#: H:MM, H:MM:SS, HH:MM:SS.ffffff, optionally with AM/PM.
TIME_RE = re.compile(
    r"(?<![\d:])(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?(?![\d:])\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?"
)
NUMBER_RE = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
#: Time-like tokens ("10:01:02", the course's "10.01") hidden before counting members.
CLOCKISH_RE = re.compile(r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\.\d+)?")
#: A member count: a whole number, which may run into the next notice's text ("count=2Server: ...").
COUNT_RE = re.compile(r"(?<![\w.])\d+(?![\d.])")
#: 17 significant digits with a long run of 0s or 9s: what repr() of a binary float shows.
FLOAT_ARTEFACT_RE = re.compile(r"\d*\.\d*(?:0{6,}|9{6,})\d{1,3}(?![\d])")


def find_times(text: str) -> list[tuple[int, int, int | None]]:
    """Every clock time in ``text`` as (hour, minute, second or None), 24-hour."""
    out = []
    for m in TIME_RE.finditer(text):
        h, mi = int(m["h"]), int(m["m"])
        s = int(m["s"]) if m["s"] is not None else None
        if m["ampm"]:
            if not 1 <= h <= 12:
                continue
            h = h % 12 + (12 if m["ampm"][0] in "Pp" else 0)
        if h < 24 and mi < 60 and (s is None or s < 61):
            out.append((h, mi, s))
    return out


def local_times(now: dt.datetime, zones: Iterable[dt.tzinfo | None]) -> list[dt.datetime]:
    """``now`` (aware) as wall-clock time in each zone (None = the checker's local zone)."""
    return [now.astimezone(zone) for zone in zones]


def dates_around(now: dt.datetime, zones: Iterable[dt.tzinfo | None]) -> set[dt.date]:
    """The dates a correct server may report at ``now``, whichever of ``zones`` it runs in."""
    return {t.date() for t in local_times(now, zones)}


def time_offset(hms: tuple[int, int, int | None], wall: dt.datetime) -> float:
    """Seconds from wall-clock ``wall`` to the reported time, folded into [-12 h, 12 h]."""
    h, m, s = hms
    reported = h * 3600 + m * 60 + (s if s is not None else 30)
    actual = wall.hour * 3600 + wall.minute * 60 + wall.second + wall.microsecond / 1e6
    diff = (reported - actual) % SECONDS_PER_DAY
    return diff - SECONDS_PER_DAY if diff > SECONDS_PER_DAY / 2 else diff


def time_is_now(
    hms: tuple[int, int, int | None],
    now: dt.datetime,
    zones: Iterable[dt.tzinfo | None],
    tolerance: float = TIME_TOLERANCE_S,
) -> bool:
    """Whether a reported time is ``now`` (within ``tolerance``) in one of ``zones``."""
    slack = tolerance + (MINUTE_SLACK_S / 2 if hms[2] is None else 0)
    return any(abs(time_offset(hms, wall)) <= slack for wall in local_times(now, zones))


def find_numbers(text: str) -> list[float]:
    """Every number written in ``text`` ("= -0.75", "Result:54", "1e3")."""
    out = []
    for m in NUMBER_RE.finditer(text):
        try:
            out.append(float(m.group()))
        except ValueError:  # pragma: no cover - the regex only matches float syntax
            continue
    return out


def same_value(got: float, expected: float) -> bool:
    return math.isclose(got, expected, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE)


def has_value(text: str, expected: float) -> bool:
    """Whether ``text`` shows ``expected`` as a number (at lab tolerance)."""
    return any(same_value(n, expected) for n in find_numbers(text))


def float_artefact(text: str) -> str | None:
    """The binary-float artefact in ``text`` (``0.30000000000000004``), if any."""
    m = FLOAT_ARTEFACT_RE.search(text)
    return m.group() if m else None


def count_in_notice(line: str, names: Sequence[str]) -> int | None:
    """The member count in a join/leave notice written in any style.

    The names and any clock time are removed first, so neither "Robin2" nor
    "time=10:01:02" is taken for the count; the last number left is the count.
    """
    text = line
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    numbers = COUNT_RE.findall(CLOCKISH_RE.sub(" ", text))
    return int(numbers[-1]) if numbers else None


def count_about(line: str, name: str, names: Sequence[str]) -> int | None:
    """The member count in the notice about ``name``, even when a server that sends no line ends
    ran another member's notice into it: the part from ``name`` to the next other name is read
    first (every wording seen puts the count after the name), else the whole line."""
    m = _mention_re(name).search(line)
    if m is None:
        return None
    rest = line[m.start() :]
    ends = [n.start() for other in names if other != name and (n := _mention_re(other).search(rest, len(name)))]
    part = rest[: min(ends, default=len(rest))]
    found = count_in_notice(part, names)
    return found if found is not None else count_in_notice(line, names)


def _mention_re(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![^\W\d]){re.escape(name)}(?![\w])")


def mentions(line: str, name: str) -> bool:
    """Whether ``line`` names ``name`` as a whole word; a digit just before it is allowed, since a
    server that sends no line ends can run a count into the next notice ("count=1Batman has ...")."""
    return _mention_re(name).search(line) is not None


CALC_LINE_RE = re.compile(r"(?P<a>\S+)\s+(?P<op>[-+*/])\s+(?P<b>\S+)")


def calc_request(line: str) -> tuple[float, str, float] | None:
    """A well-formed calculator request as the course defines it, or None.

    Two numbers and one of ``+ - * /``, separated by spaces.
    """
    m = CALC_LINE_RE.fullmatch(line.strip())
    if not m:
        return None
    try:
        a, b = float(m["a"]), float(m["b"])
    except ValueError:
        return None
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    return a, m["op"], b


def gap_ok(gap: float, low: float, high: float) -> bool:
    return low <= gap <= high
