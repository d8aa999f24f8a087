"""calc-client: names itself, then sends each calculation the user types and prints the answer.

Input is checked with the same parser the server uses, so a malformed line is
warned about here and never sent. Works with a terminal or with piped stdin
(then each input line is echoed after its prompt, so the output reads as a
transcript). Exit status: 0 after ``q`` or end of input, 1 if the server is
unreachable, goes away or does not answer in time, 2 for a bad ``--name``.
"""

from __future__ import annotations

import socket
import sys
from collections import deque
from collections.abc import Iterator

from services.cli import PORTS, add_endpoint, exit_on_sigterm, fail, make_parser, parse
from services.framing import MAX_LINE, LineDecoder, encode_line

from .protocol import QUIT, CalcError, check_name, is_quit, parse_request

PROGRAM = "calc-client"
SERVER = "calc-server"  # the server's Compose service name
REPLY_TIMEOUT = 10.0  # seconds to wait for an answer (or for the server to close after q)
READ_SIZE = 4096
NAME_PROMPT = "Enter your name: "
PROMPT = "> "


class ClientError(Exception):
    """The conversation cannot go on; ``str(err)`` says why, for the user."""


class Connection:
    """Lines over a connected TCP socket, with a timeout on every wait."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.decoder = LineDecoder(MAX_LINE)
        self.lines: deque[str] = deque()

    def send(self, text: str) -> None:
        try:
            self.sock.sendall(encode_line(text))
        except OSError as exc:
            raise self._broken(exc) from None

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(READ_SIZE)
        except OSError as exc:
            raise self._broken(exc) from None

    def _broken(self, exc: OSError) -> ClientError:
        if isinstance(exc, TimeoutError):
            return ClientError(f"no reply from the server within {self.timeout:g} s")
        if isinstance(exc, ConnectionError):  # reset, broken pipe: the server process is gone
            return ClientError("server closed the connection")
        return ClientError(f"connection to the server failed: {exc.strerror or exc}")

    def receive(self) -> str:
        """The next line from the server."""
        while not self.lines:
            data = self._recv()
            items = self.decoder.feed(data) if data else self.decoder.close()
            self.lines.extend(str(item) for item in items)  # a framing error is shown as its reason
            if not data and not self.lines:
                raise ClientError("server closed the connection")
        return self.lines.popleft()

    def wait_closed(self) -> None:
        """After ``q``: wait until the server closes its side."""
        while self._recv():
            pass


def ask(prompt: str) -> str | None:
    """One line from the user, or None at end of input."""
    try:
        line = input(prompt)
    except EOFError:
        print(flush=True)  # end the prompt's line
        return None
    if not sys.stdin.isatty():
        print(line, flush=True)  # piped input is not echoed by a terminal; show it after the prompt
    return line


def ask_name() -> str | None:
    while (line := ask(NAME_PROMPT)) is not None:
        try:
            return check_name(line)
        except CalcError as err:
            warn(str(err))
    return None


def requests() -> Iterator[str]:
    """Well-formed request lines typed by the user, until ``q`` or end of input."""
    while (line := ask(PROMPT)) is not None and not is_quit(line):
        try:
            parse_request(line)
        except CalcError as err:
            warn(f"{err} — not sent")
            continue
        yield line.strip()


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def converse(conn: Connection, name: str | None) -> None:
    name = name or ask_name()
    if name is not None:
        conn.send(name)
        print(f"Hello {name}. Type a calculation such as 12 + 42, or {QUIT} to quit.", flush=True)
        for line in requests():
            conn.send(line)
            print(conn.receive(), flush=True)
    conn.send(QUIT)  # end of input acts as q
    conn.wait_closed()


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(PROGRAM, "TCP calculator client: checks each line, sends it, prints the answer; q quits.")
    add_endpoint(parser, host=SERVER, port=PORTS["calc"])
    parser.add_argument("--name", help="name to send (default: ask)")
    parser.add_argument(
        "--timeout", type=float, default=REPLY_TIMEOUT, help=f"seconds to wait for a reply (default {REPLY_TIMEOUT:g})"
    )
    args = parse(parser, argv)
    exit_on_sigterm()
    if args.name is not None:
        try:
            check_name(args.name)
        except CalcError as err:
            return fail(f"--name: {err}", 2)
    try:
        sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    except OSError as exc:
        return fail(f"cannot connect to {args.host}:{args.port}: {exc.strerror or exc}")
    with sock:
        try:
            converse(Connection(sock, args.timeout), args.name and args.name.strip())
        except ClientError as exc:
            return fail(str(exc))
    return 0
