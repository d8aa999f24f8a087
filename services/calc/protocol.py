"""The calculator protocol: named sessions of one-line arithmetic requests (pure code, no I/O).

Wire format (TCP, LF-terminated UTF-8 lines, framed by ``services/framing.py``):

* The client's first line is its name: 1 to ``MAX_NAME`` characters after
  surrounding whitespace is dropped, no control characters. An accepted name
  gets no reply; a refused one gets ``ERROR <reason>`` and the server waits
  for another name.
* Every later line is a request ``<number> <op> <number>``: three items
  separated by whitespace (one space is the norm; runs of spaces or tabs are
  accepted), ``op`` one of ``+ - * /``. The reply is one line: the result, or
  ``ERROR <reason>``; either way the session goes on.
* A number is decimal notation: optional sign, digits, optional fraction,
  optional exponent (``12``, ``-4.5``, ``.5``, ``2.5e3``), at most
  ``MAX_OPERAND`` characters; ``nan`` and ``inf`` are not numbers.
* Every number, given or computed, is 0 or has a magnitude from
  ``1e-50`` up to (not including) ``1e50``; outside that → ``ERROR``.
* Results are computed in decimal (not binary floating point) to ``PRECISION``
  significant digits and shown as a calculator shows them: no trailing zeros,
  no ``-0``, plain notation from ``1e-7`` up to ``1e21`` (as JavaScript
  prints numbers), exponent notation outside (``1.5e+30``).
* The line ``q`` (surrounding whitespace ignored) ends the session at any
  point: the server closes the connection without a reply.

Sample exchange (C = client, S = server)::

    C: Alice
    C: 12 + 42
    S: 54
    C: 4.5 / -6
    S: -0.75
    C: 12 % 4
    S: ERROR unknown operator '%': use one of + - * /
    C: 1 / 0
    S: ERROR division by zero
    C: q
       (server closes; its log says "Session ended: Alice@10.0.0.5:40112 (quit)")
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

MAX_NAME = 32  # characters in a client name
MAX_OPERAND = 64  # characters in one number as typed
MAX_EXPONENT = 50  # numbers are 0 or 1e-50 <= |x| < 1e50
PRECISION = 28  # significant digits of a result (Python's decimal default)
PLAIN_RANGE = range(-7, 21)  # exponents shown without e-notation, as JavaScript does
SHOW_LIMIT = 20  # characters of a bad item quoted back in an error

QUIT = "q"
FORMAT_HINT = "<number> <op> <number> separated by spaces, e.g. 12 + 42"
NUMBER_HINT = "examples: 12, -4.5, 2.5e3"
RANGE_HINT = f"numbers must be 0 or between 1e-{MAX_EXPONENT} and 1e{MAX_EXPONENT} in magnitude"

# ASCII digits only: Python's \d would also take Arabic-Indic and other digits.
NUMBER_RE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")

OPERATIONS: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


class CalcError(ValueError):
    """A request or name the server refuses; ``str(err)`` is the reason sent after ``ERROR``."""


@dataclass(frozen=True)
class Request:
    left: Decimal
    op: str
    right: Decimal


def show(item: str) -> str:
    """An item quoted for an error message, cut short so replies stay short."""
    return repr(item if len(item) <= SHOW_LIMIT else item[:SHOW_LIMIT] + "...")


def in_range(value: Decimal) -> bool:
    return not value or -MAX_EXPONENT <= value.adjusted() < MAX_EXPONENT


def parse_number(item: str) -> Decimal:
    if len(item) > MAX_OPERAND:
        raise CalcError(f"operand of {len(item)} characters exceeds {MAX_OPERAND}")
    if not NUMBER_RE.fullmatch(item):
        raise CalcError(f"{show(item)} is not a number ({NUMBER_HINT})")
    try:
        value = Decimal(item)
    except InvalidOperation:  # an exponent too large even for the decimal module
        value = None
    if value is None or not in_range(value):
        raise CalcError(f"operand {item} out of range: {RANGE_HINT}")
    return value


def parse_request(line: str) -> Request:
    """``"12 + 42"`` -> ``Request(12, "+", 42)``; anything else raises :class:`CalcError`."""
    items = line.split()
    if len(items) != 3:
        raise CalcError(f"expected {FORMAT_HINT} (got {len(items)} item{'' if len(items) == 1 else 's'})")
    left, op, right = items
    number = parse_number(left)
    if op not in OPERATIONS:
        raise CalcError(f"unknown operator {show(op)}: use one of {' '.join(OPERATIONS)}")
    return Request(number, op, parse_number(right))


def format_number(value: Decimal) -> str:
    """As a calculator shows it: ``145.80`` -> ``145.8``, ``-0`` -> ``0``, ``1E+30`` -> ``1e+30``."""
    if not value:
        return "0"
    value = value.normalize()
    return format(value, "f" if value.adjusted() in PLAIN_RANGE else "e")


def evaluate(request: Request) -> str:
    """The result as reply text; raises :class:`CalcError` for x / 0 and out-of-range results."""
    if request.op == "/" and not request.right:
        raise CalcError("division by zero")
    with localcontext(prec=PRECISION):
        result = OPERATIONS[request.op](request.left, request.right)
        if not in_range(result):
            raise CalcError(f"result {format(result.normalize(), 'e')} out of range: {RANGE_HINT}")
        return format_number(result)


def calculate(line: str) -> str:
    return evaluate(parse_request(line))


def check_name(line: str) -> str:
    """The client's name with surrounding whitespace dropped; raises :class:`CalcError` if unusable."""
    name = line.strip()
    if not name:
        raise CalcError("name must not be empty")
    if len(name) > MAX_NAME:
        raise CalcError(f"name of {len(name)} characters exceeds {MAX_NAME}")
    if not name.isprintable():
        raise CalcError("name must not contain control characters")
    return name


def is_quit(line: str) -> bool:
    return line.strip() == QUIT


@dataclass(frozen=True)
class Reply:
    """What the server does after one line: send a line (or not), log a line (or not), close (or not)."""

    send: str | None = None
    log: str | None = None
    close: bool = False


class Session:
    """One client's session: waiting for a name, then answering requests until ``q``.

    The server feeds it every line (or framing error) and carries out the
    :class:`Reply`; all decisions live here, so they are tested without sockets.
    """

    def __init__(self, peer: str) -> None:
        self.peer = peer  # "IP:PORT"
        self.name: str | None = None

    @property
    def who(self) -> str:
        return f"{self.name}@{self.peer}" if self.name else self.peer

    def handle(self, line: str) -> Reply:
        if is_quit(line):
            return self.end("quit")
        if self.name is None:
            return self._take_name(line)
        return self._answer(line)

    def reject(self, error: Exception) -> Reply:
        """A line the framing layer refused (too long, not UTF-8): say why, keep the session."""
        return Reply(send=f"ERROR {error}", log=f"{self.who} sent a bad line -> ERROR {error}")

    def end(self, why: str) -> Reply:
        """The session is over (quit, disconnect, idle): log it and close."""
        return Reply(log=f"Session ended: {self.who} ({why})", close=True)

    def _take_name(self, line: str) -> Reply:
        try:
            self.name = check_name(line)
        except CalcError as err:
            return Reply(send=f"ERROR {err}", log=f"{self.who} sent a bad name {line!r} -> ERROR {err}")
        return Reply(log=f"{self.who} started a session")

    def _answer(self, line: str) -> Reply:
        try:
            answer = calculate(line)
        except CalcError as err:
            answer = f"ERROR {err}"
        return Reply(send=answer, log=f"{self.who} sent {line!r} -> {answer}")
