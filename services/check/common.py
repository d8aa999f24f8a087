"""Case builders shared by the line-based TCP services: framing and bad-input cases, probes."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.check.core import Case, Config, case
from services.check.session import CaseFailed, Session, TcpConn, UdpConn

#: Bytes in the over-long line the strict cases send (the limit is 1024).
OVERLONG_BYTES = 5000
INVALID_UTF8 = b"caf\xc3 \xff\xfe"
ERROR_PREFIX = "ERROR "


@dataclass
class Pair:
    """Who sends, who should see the result, and what exact line the result is."""

    sender: TcpConn
    receiver: TcpConn
    reply: Callable[[str], str]
    #: Lines the receiver may get that belong to no case (chat: an earlier case's members leaving).
    skip: Callable[[str], bool] | None = None

    def _next(self, conn: TcpConn, expected: str) -> str:
        while True:
            got = conn.line(expected)
            if not (self.skip and self.skip(got)):
                return got

    def expect(self, text: str) -> None:
        want = self.reply(text)
        got = self._next(self.receiver, repr(want))
        if got != want:
            raise CaseFailed(f"{self.receiver.label}: sent {text!r}, expected {want!r}, got {got!r}")

    def refuse(self, text: str) -> None:
        """The sender sends the line ``text`` and gets an ERROR reply."""
        self.sender.send(text)
        self.expect_error(repr(text))

    def expect_error(self, sent: str) -> None:
        """The sender's next line (after ``sent``, described for people) is an ERROR reply."""
        expect_error(self._next(self.sender, f"{error_wanted()} in reply to {sent}"), sent, self.sender.label)


def error_wanted(naming: Sequence[str] = ()) -> str:
    """What a strict case wants in reply to bad input, in words."""
    return f"a reply starting {ERROR_PREFIX!r}" + (f" naming {' and '.join(naming)}" if naming else "")


def expect_error(got: str, sent: str, label: str = "", naming: Sequence[str] = ()) -> None:
    """Strict: ``got``, the reply to ``sent`` (described for people), starts with ERROR and names ``naming``."""
    if not got.startswith(ERROR_PREFIX) or not all(word in got for word in naming):
        who = f"{label}: " if label else ""
        raise CaseFailed(f"{who}sent {sent}, expected {error_wanted(naming)}, got {got!r}")


def ask_error(conn: UdpConn, data: bytes, sent: str, naming: Sequence[str] = ()) -> None:
    """Strict, UDP: the reply to the datagram ``data`` (``sent`` describes it) is an ERROR reply."""
    got = conn.ask(data, error_wanted(naming)).decode("utf-8", "replace")
    expect_error(got, sent, naming=naming)


OpenPair = Callable[[Session, Config], Pair]


def framing_cases(prefix: str, open_pair: OpenPair, samples: list[str]) -> list[Case]:
    """Strict cases of the shared line framing: CRLF, split and coalesced lines."""

    @case(f"{prefix}.crlf", "strict", "a line ending in CRLF is taken as the same line")
    def crlf(s: Session, cfg: Config) -> None:
        pair = open_pair(s, cfg)
        pair.sender.send_raw(samples[0].encode() + b"\r\n")
        pair.expect(samples[0])

    @case(f"{prefix}.split-lines", "strict", "a line sent one byte per TCP segment is one line")
    def split(s: Session, cfg: Config) -> None:
        pair = open_pair(s, cfg)
        pair.sender.send_split(samples[1].encode() + b"\n")
        pair.expect(samples[1])

    @case(f"{prefix}.coalesced-lines", "strict", "several lines in one TCP segment are each handled, in order")
    def coalesced(s: Session, cfg: Config) -> None:
        pair = open_pair(s, cfg)
        pair.sender.send_raw(b"".join(text.encode() + b"\n" for text in samples))
        for text in samples:
            pair.expect(text)

    return [crlf, split, coalesced]


def bad_line_cases(prefix: str, open_pair: OpenPair, sample: str) -> list[Case]:
    """Strict cases of lines the framing rejects: ERROR to the sender, and the session goes on."""

    @case(f"{prefix}.invalid-utf8", "strict", "a line that is not UTF-8 gets ERROR and the session goes on")
    def invalid_utf8(s: Session, cfg: Config) -> None:
        pair = open_pair(s, cfg)
        pair.sender.send_raw(INVALID_UTF8 + b"\n")
        pair.expect_error("a line that is not UTF-8")
        pair.sender.send(sample)
        pair.expect(sample)

    @case(f"{prefix}.over-long-line", "strict", f"a line of {OVERLONG_BYTES} bytes gets ERROR, the session goes on")
    def overlong(s: Session, cfg: Config) -> None:
        pair = open_pair(s, cfg)
        pair.sender.send_raw(b"7" * OVERLONG_BYTES + b"\n")
        pair.expect_error(f"a line of {OVERLONG_BYTES} bytes")
        pair.sender.send(sample)
        pair.expect(sample)

    return [invalid_utf8, overlong]


def tcp_probe(cfg: Config) -> str | None:
    """None if the server accepts a connection, else why not."""
    try:
        with socket.create_connection((cfg.host, cfg.port), timeout=cfg.reply_timeout):
            return None
    except OSError as exc:
        return str(exc) or type(exc).__name__


def udp_probe(request: bytes) -> Callable[[Config], str | None]:
    """A probe sending ``request`` and waiting for any reply datagram."""

    def probe(cfg: Config) -> str | None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(cfg.reply_timeout)
            try:
                sock.connect((cfg.host, cfg.port))
                sock.send(request)
                sock.recv(65535)
            except TimeoutError:
                return f"no reply to {request!r} within {cfg.reply_timeout:g} s"
            except OSError as exc:
                return str(exc)
        return None

    return probe
