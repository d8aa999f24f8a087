"""Echo clients: send lines (``--message`` or stdin until EOF), print each reply.

``ask_udp`` is the UDP request pattern with a timeout; the date/time client
reuses it.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterable

from services.cli import PORTS, add_endpoint, exit_on_sigterm, fail, log, make_parser, parse
from services.echo.server import RECV_BUFFER
from services.framing import FramingError, LineDecoder, encode_line

DEFAULT_TIMEOUT = 1.0  # seconds to wait for each reply


def drain(sock: socket.socket) -> list[bytes]:
    """Take whatever already waits in the socket: late replies to earlier requests."""
    stale = []
    sock.setblocking(False)
    try:
        while True:
            try:
                stale.append(sock.recv(RECV_BUFFER))
            except ConnectionRefusedError:  # an earlier datagram found no listener; nothing to read
                continue
    except BlockingIOError:
        return stale


def ask_udp(
    sock: socket.socket,
    payload: bytes,
    timeout: float,
    accept: Callable[[bytes], bool] = lambda reply: True,
    clock: Callable[[], float] = time.monotonic,
) -> bytes | None:
    """Send one datagram on a connected socket; return the first accepted reply, or None after ``timeout`` s.

    UDP gives no sign that a request or a reply was lost, so the only option is
    to stop waiting. Replies ``accept`` rejects (late answers to something else)
    are skipped while the wait goes on.
    """
    for late in drain(sock):
        log(f"(discarded a late reply: {late!r})")
    sock.send(payload)
    deadline = clock() + timeout
    while (left := deadline - clock()) > 0:
        sock.settimeout(left)
        try:
            reply = sock.recv(RECV_BUFFER)
        except TimeoutError:
            break
        except ConnectionRefusedError:  # ICMP port unreachable: nobody listens there; wait out the timeout
            continue
        if accept(reply):
            return reply
        log(f"(ignored a reply that does not answer this request: {reply!r})")
    return None


def udp_socket(host: str, port: int) -> socket.socket:
    """A UDP socket connected to the server: the kernel then drops datagrams from anyone else."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((host, port))
    return sock


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
