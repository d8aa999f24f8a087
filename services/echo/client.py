"""Echo clients: send lines (``--message`` or stdin until EOF), print each reply (UDP through ``services.udp``)."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterable

from services.cli import PORTS, add_endpoint, exit_on_sigterm, fail, log, make_parser, parse
from services.framing import FramingError, LineDecoder, encode_line
from services.udp import RECV_BUFFER, ask_udp, udp_socket

DEFAULT_TIMEOUT = 1.0  # seconds to wait for each reply


def input_lines(message: str | None) -> Iterable[str]:
    if message is not None:
        return [message]
    return (line.rstrip("\r\n") for line in sys.stdin)


def make_client_parser(prog: str, transport: str, key: str) -> tuple:
    parser = make_parser(prog, f"{transport} echo client: sends each line of stdin (or --message), prints the replies.")
    add_endpoint(parser, host=f"{key}-server", port=PORTS[key])
    parser.add_argument("--message", help="send just this line instead of reading stdin")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for each reply")
    return parser


def udp_main(argv: list[str] | None = None) -> int:
    args = parse(make_client_parser("udp-echo-client", "UDP", "udp-echo"), argv)
    exit_on_sigterm()
    try:
        with udp_socket(args.host, args.port) as sock:
            for line in input_lines(args.message):
                reply = ask_udp(sock, line.encode("utf-8"), args.timeout)
                log(f"no reply within {args.timeout} s (lost)" if reply is None else reply.decode("utf-8", "replace"))
    except OSError as exc:
        return fail(f"{args.host}:{args.port}: {exc}")
    except KeyboardInterrupt:
        pass
    return 0


def tcp_main(argv: list[str] | None = None) -> int:
    args = parse(make_client_parser("tcp-echo-client", "TCP", "tcp-echo"), argv)
    exit_on_sigterm()
    try:
        with socket.create_connection((args.host, args.port), timeout=args.timeout) as sock:
            replies = tcp_replies(sock)
            for line in input_lines(args.message):
                sock.sendall(encode_line(line))
                log(next(replies))
    except StopIteration:
        return fail("the server closed the connection")
    except TimeoutError:
        return fail(f"no reply within {args.timeout} s")
    except (OSError, FramingError) as exc:
        return fail(f"{args.host}:{args.port}: {exc}")
    except KeyboardInterrupt:
        pass
    return 0


def tcp_replies(sock: socket.socket) -> Iterable[str]:
    """The server's lines, one at a time, however TCP splits or merges them."""
    decoder = LineDecoder()
    while data := sock.recv(RECV_BUFFER):
        yield from (str(line) for line in decoder.feed(data))
    yield from (str(line) for line in decoder.close())
