"""chat-client: a chat window in the terminal.

Asks for a login name (or takes ``--name``) until the server accepts one, then
prints every line the room sends while sending every line the user types.
Two threads, so receiving never waits on the keyboard: the main thread reads
the socket and prints; a daemon thread reads stdin (a terminal or a pipe)
and sends. ``quit`` or the end of input leaves the room (exit 0); the server
going away ends the program with status 1.

The server sends no explicit "OK" for a login: the first line back that is not
``ERROR ...`` is the newcomer's own join notice, and that is the acceptance.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import threading
from collections.abc import Iterator

from services import cli
from services.chat.protocol import QUIT, scrub
from services.framing import MAX_LINE, FramingError, LineDecoder, encode_line

PROGRAM = "chat-client"
CONNECT_TIMEOUT = 10.0
#: After sending ``quit``, how long to wait for the server to close before closing ourselves.
QUIT_WAIT = 5.0
#: Longest line accepted from the server: a name, ``": "`` and a message whose every byte
#: the server may have replaced by the 3-byte U+FFFD.
MAX_INCOMING_LINE = 64 + 3 * MAX_LINE
RECV_SIZE = 65536


def server_lines(sock: socket.socket) -> Iterator[str]:
    """Lines from the server until it closes the connection (or resets it)."""
    decoder = LineDecoder(MAX_INCOMING_LINE)
    while True:
        try:
            data = sock.recv(RECV_SIZE)
        except OSError:
            data = b""
        items = decoder.feed(data) if data else decoder.close()
        for item in items:
            yield f"(unreadable line from the server: {item})" if isinstance(item, FramingError) else item
        if not data:
            return


def ask_name() -> str | None:
    """The next login name typed, or None at the end of input."""
    cli.log("Enter login name:")
    line = sys.stdin.readline()
    return line.strip() if line else None


def log_in(sock: socket.socket, lines: Iterator[str], name: str | None) -> bool:
    """Offer names until one is accepted (True); False if input or the connection ends first."""
    while True:
        if name is None:
            name = ask_name()
            if name is None:
                return False
        sock.sendall(encode_line(name))
        reply = next(lines, None)
        if reply is None:
            raise ConnectionError("server closed the connection during login")
        cli.log(scrub(reply))
        if not reply.startswith("ERROR"):
            return True  # our own join notice
        name = None


def send_input(sock: socket.socket, leaving: threading.Event) -> None:
    """Send each typed line; on ``quit`` or end of input, leave and make sure the connection ends."""
    try:
        for line in sys.stdin:
            text = line.rstrip("\r\n")
            if text.strip() == QUIT:
                break
            try:
                sock.sendall(encode_line(text))
            except FramingError as exc:  # a stray CR in the middle of a pasted line
                cli.log(f"(not sent: {exc})")
        leaving.set()
        sock.sendall(encode_line(QUIT))
    except OSError:
        return  # the main thread sees the connection end and reports it
    # The server closes the connection after quit; if it does not, stop waiting for it.
    timer = threading.Timer(QUIT_WAIT, shut, (sock,))
    timer.daemon = True
    timer.start()


def shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes the main thread's recv with end of stream


def chat(sock: socket.socket, name: str | None) -> int:
    lines = server_lines(sock)
    if not log_in(sock, lines, name):
        return 0  # input ended before a name was accepted: nothing to leave
    leaving = threading.Event()
    threading.Thread(target=send_input, args=(sock, leaving), daemon=True).start()
    for line in lines:
        cli.log(scrub(line))  # the server scrubs too; a terminal should not trust any server
    if leaving.is_set():
        return 0
    return cli.fail("the server closed the connection")


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(PROGRAM, "Chat room client: log in, then every line typed goes to the room.")
    cli.add_endpoint(parser, host="chat-server", port=cli.PORTS["chat"])
    parser.add_argument("--name", help="login name to try first (asked for if missing or refused)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = cli.parse(build_parser(), argv)
    cli.exit_on_sigterm()
    try:
        sock = socket.create_connection((args.host, args.port), timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        return cli.fail(f"cannot connect to {args.host}:{args.port}: {exc.strerror or exc}")
    sock.settimeout(None)
    with sock:
        try:
            return chat(sock, args.name)
        except OSError as exc:  # ConnectionError included
            return cli.fail(str(exc.strerror or exc))
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: closing the connection is leaving
            return 0
