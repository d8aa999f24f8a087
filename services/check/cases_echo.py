"""Cases for the echo servers: each datagram (UDP) or line (TCP) comes back upper-cased.

``lab``: the text comes back (the course's template upper-cases it; any case is
accepted) and the server keeps serving. ``strict``: exactly upper-cased, bad
input answered with ``ERROR``, and for TCP the shared framing and several
clients at once.
"""

from __future__ import annotations

from services.check.common import Pair, ask_error, bad_line_cases, framing_cases, tcp_probe, udp_probe
from services.check.core import Config, case
from services.check.session import CaseFailed, Session, TcpConn, UdpConn

SAMPLE = "Hello, lab 2"
UNICODE = "straße grüße"
REPEATS = 5
#: Over socklab's 2048-byte limit for one UDP request.
OVERSIZED = 3000
CONCURRENT = 10


def udp_echo(conn: UdpConn, sent: str, exact: bool) -> None:
    reply = conn.ask(sent.encode(), f"{sent!r} echoed").decode("utf-8", "replace")
    want = sent.upper()
    if (reply != want) if exact else (reply.strip().casefold() != sent.strip().casefold()):
        form = "exactly" if exact else "the same text (any case)"
        raise CaseFailed(f"sent {sent!r}, expected {form} {want!r}, got {reply!r}")


@case("udp-echo.reply", "lab", "a datagram comes back as the same text (upper-cased or not)")
def udp_reply(s: Session, cfg: Config) -> None:
    udp_echo(s.udp("A"), SAMPLE, exact=False)


@case("udp-echo.keeps-serving", "lab", f"{REPEATS} datagrams from different sockets each come back")
def udp_keeps(s: Session, cfg: Config) -> None:
    for i in range(REPEATS):
        udp_echo(s.udp(f"C{i}"), f"message {i}", exact=False)


@case("udp-echo.upper-case", "strict", "the reply is exactly the text upper-cased, line end kept")
def udp_upper(s: Session, cfg: Config) -> None:
    conn = s.udp("A")
    for sent in (SAMPLE, UNICODE, "two words\n"):
        udp_echo(conn, sent, exact=True)


@case("udp-echo.invalid-utf8", "strict", "a datagram that is not UTF-8 gets ERROR, the server goes on")
def udp_invalid(s: Session, cfg: Config) -> None:
    conn = s.udp("A")
    ask_error(conn, b"caf\xc3", "a datagram that is not UTF-8")
    udp_echo(conn, SAMPLE, exact=True)


@case("udp-echo.oversized", "strict", f"a {OVERSIZED}-byte datagram gets ERROR, the server goes on")
def udp_oversized(s: Session, cfg: Config) -> None:
    conn = s.udp("A")
    ask_error(conn, b"x" * OVERSIZED, f"a {OVERSIZED}-byte datagram")
    udp_echo(conn, SAMPLE, exact=True)


def tcp_echo(conn: TcpConn, sent: str, exact: bool) -> None:
    conn.send(sent)
    got = conn.line(f"{sent.upper()!r}")
    if (got != sent.upper()) if exact else (got.casefold() != sent.casefold()):
        form = "exactly" if exact else "the same text (any case)"
        raise CaseFailed(f"{conn.label}: sent {sent!r}, expected {form} {sent.upper()!r}, got {got!r}")


@case("tcp-echo.reply", "lab", "each line comes back as the same text (upper-cased or not)")
def tcp_reply(s: Session, cfg: Config) -> None:
    conn = s.tcp("A")
    for i in range(REPEATS):
        tcp_echo(conn, f"{SAMPLE} #{i}", exact=False)


@case("tcp-echo.upper-case", "strict", "each line comes back exactly upper-cased")
def tcp_upper(s: Session, cfg: Config) -> None:
    conn = s.tcp("A")
    for sent in (SAMPLE, UNICODE):
        tcp_echo(conn, sent, exact=True)


@case("tcp-echo.concurrent-clients", "strict", f"{CONCURRENT} clients connected at once are each answered")
def tcp_concurrent(s: Session, cfg: Config) -> None:
    conns = [s.tcp(f"C{i}") for i in range(CONCURRENT)]
    for i, conn in enumerate(reversed(conns)):
        tcp_echo(conn, f"client {i}", exact=True)


def open_pair(s: Session, cfg: Config) -> Pair:
    conn = s.tcp("A")
    return Pair(conn, conn, str.upper)


CASES = {
    "udp-echo-server": [udp_reply, udp_keeps, udp_upper, udp_invalid, udp_oversized],
    "tcp-echo-server": [
        tcp_reply,
        tcp_upper,
        tcp_concurrent,
        *framing_cases("tcp-echo", open_pair, ["hello", "split me", "third line"]),
        *bad_line_cases("tcp-echo", open_pair, SAMPLE),
    ],
}
PROBES = {"udp-echo-server": udp_probe(b"probe"), "tcp-echo-server": tcp_probe}
