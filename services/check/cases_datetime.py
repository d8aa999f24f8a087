"""Cases for datetime-server: UDP, ``SEND_DATE`` / ``SEND_TIME`` -> the date / the time.

``lab``: today's date in any unambiguous form (``2026-11-28``, ``28-11-2026``,
``28/11/2026``, ``28 Nov 2026``, ...) and the time now as HH:MM:SS, as the course
asks (in the checker's zone or UTC, or a ``--tz`` zone; within 2 minutes), and
the server keeps answering new sockets (each with a date or a time: whether it is
the right one, and right now, is send-date's and send-time's business).
``strict``: exactly ``YYYY-MM-DD`` / ``HH:MM:SS`` plus LF, whitespace around the
request ignored, ``ERROR`` replies naming the valid requests for anything else.
"""

from __future__ import annotations

import re

from services.check import judge
from services.check.common import ask_error, udp_probe
from services.check.core import Config, case
from services.check.session import CaseFailed, Session, UdpConn

DATE = b"SEND_DATE"
TIME = b"SEND_TIME"
DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\n")
TIME_RE = re.compile(r"(\d{2}):(\d{2}):(\d{2})\n")
#: Requests from separate sockets, to show the server loops and answers everyone.
REPEATS = 6
#: What an ERROR reply must name: the valid requests.
VALID = ("SEND_DATE", "SEND_TIME")
BAD_REQUESTS = [b"SEND_YEAR", b"send_time", b"", b"SEND_DATE SEND_TIME"]
OVERSIZED = 4000


def text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def is_today(reply: str, cfg: Config) -> bool:
    return bool(set(judge.find_dates(reply)) & judge.dates_around(cfg.now(), cfg.zones))


def is_now(reply: str, cfg: Config) -> bool:
    """Whether ``reply`` holds the time now as HH:MM:SS (the course's form: seconds required)."""
    now = cfg.now()
    return any(hms[2] is not None and judge.time_is_now(hms, now, cfg.zones) for hms in judge.find_times(reply))


def expect_date(conn: UdpConn, cfg: Config, request: bytes = DATE) -> None:
    reply = text(conn.ask(request, "today's date"))
    if not is_today(reply, cfg):
        want = " or ".join(sorted(d.isoformat() for d in judge.dates_around(cfg.now(), cfg.zones)))
        raise CaseFailed(f"sent {request.decode()!r}, expected today's date ({want} in any form), got {reply!r}")


def expect_time(conn: UdpConn, cfg: Config, request: bytes = TIME) -> None:
    reply = text(conn.ask(request, "the current time"))
    if not is_now(reply, cfg):
        walls = ", ".join(w.strftime("%H:%M:%S %Z") for w in judge.local_times(cfg.now(), cfg.zones))
        raise CaseFailed(
            f"sent {request.decode()!r}, expected the time now as HH:MM:SS (one of {walls}, "
            f"within {judge.TIME_TOLERANCE_S} s), got {reply!r}"
        )


@case("datetime.send-date", "lab", "SEND_DATE gets today's date, in any unambiguous form")
def send_date(s: Session, cfg: Config) -> None:
    expect_date(s.udp("A"), cfg)


@case("datetime.send-time", "lab", "SEND_TIME gets the time now as HH:MM:SS (within 2 min)")
def send_time(s: Session, cfg: Config) -> None:
    expect_time(s.udp("A"), cfg)


@case("datetime.keeps-serving", "lab", f"{REPEATS} requests from different sockets each get a date or a time")
def keeps_serving(s: Session, cfg: Config) -> None:
    for i in range(REPEATS):
        request = DATE if i % 2 else TIME
        reply = text(s.udp(f"C{i}").ask(request, "an answer"))
        if not (judge.find_dates(reply) or any(hms[2] is not None for hms in judge.find_times(reply))):
            raise CaseFailed(f"C{i}: sent {request.decode()!r}, expected a date or a time (HH:MM:SS), got {reply!r}")


def exact(conn: UdpConn, request: bytes, rx: re.Pattern[str], form: str) -> tuple[int, int, int]:
    reply = text(conn.ask(request, form))
    m = rx.fullmatch(reply)
    if not m:
        raise CaseFailed(f"sent {request.decode()!r}, expected exactly {form}, got {reply!r}")
    a, b, c = (int(g) for g in m.groups())
    return a, b, c


@case("datetime.date-format", "strict", "SEND_DATE gets exactly YYYY-MM-DD and LF")
def date_format(s: Session, cfg: Config) -> None:
    y, m, d = exact(s.udp("A"), DATE, DATE_RE, "YYYY-MM-DD + LF")
    accepted = judge.dates_around(cfg.now(), cfg.zones)
    if not any((y, m, d) == (a.year, a.month, a.day) for a in accepted):
        raise CaseFailed(f"the date {y:04}-{m:02}-{d:02} is not today ({', '.join(map(str, sorted(accepted)))})")


@case("datetime.time-format", "strict", "SEND_TIME gets exactly HH:MM:SS (24-hour) and LF")
def time_format(s: Session, cfg: Config) -> None:
    hms = exact(s.udp("A"), TIME, TIME_RE, "HH:MM:SS + LF")
    if not judge.time_is_now(hms, cfg.now(), cfg.zones):
        raise CaseFailed("the time {:02}:{:02}:{:02} is not now".format(*hms))


@case("datetime.whitespace", "strict", "whitespace around the request is ignored (' SEND_TIME\\r\\n')")
def whitespace(s: Session, cfg: Config) -> None:
    conn = s.udp("A")
    expect_time(conn, cfg, b" SEND_TIME\r\n")
    expect_date(conn, cfg, b"SEND_DATE\n")


@case("datetime.unknown-request", "strict", "any other request gets ERROR naming SEND_DATE and SEND_TIME")
def unknown_request(s: Session, cfg: Config) -> None:
    conn = s.udp("A")
    for bad in BAD_REQUESTS:
        ask_error(conn, bad, repr(bad), VALID)
    expect_time(conn, cfg)


@case("datetime.invalid-utf8", "strict", "a datagram that is not UTF-8 gets ERROR, the server goes on")
def invalid_utf8(s: Session, cfg: Config) -> None:
    conn = s.udp("A")
    ask_error(conn, b"SEND_\xff\xfe", "a datagram that is not UTF-8", VALID)
    expect_time(conn, cfg)


@case("datetime.oversized", "strict", f"a {OVERSIZED}-byte datagram gets ERROR, the server goes on")
def oversized(s: Session, cfg: Config) -> None:
    conn = s.udp("A")
    ask_error(conn, b"SEND_TIME" * (OVERSIZED // 9), f"a {OVERSIZED}-byte datagram", VALID)
    expect_time(conn, cfg)


CASES = {
    "datetime-server": [
        send_date,
        send_time,
        keeps_serving,
        date_format,
        time_format,
        whitespace,
        unknown_request,
        invalid_utf8,
        oversized,
    ]
}
PROBES = {"datetime-server": udp_probe(TIME)}
