"""Date/time client: asks SEND_DATE or SEND_TIME every 1-2 s (random), prints each reply, counts losses.

Late replies: the protocol has no request ids, so the client protects itself
twice. Before each request it drains the socket (anything waiting is a late
reply to an earlier request), and while waiting it skips a reply of the wrong
shape (a date when it asked for the time). What remains possible is a late reply
of the same kind arriving between the send and the real answer: it is then taken
as the answer (it is off by at most --timeout + --max-gap seconds) and the real
one is drained before the next request.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from services.cli import PORTS, add_endpoint, exit_on_sigterm, fail, log, make_parser, parse
from services.datetime import protocol
from services.udp import ask_udp, udp_socket

DEFAULT_TIMEOUT = 1.0  # seconds to wait for each reply
DEFAULT_MIN_GAP = 1.0  # seconds between requests, chosen uniformly in [min, max]
DEFAULT_MAX_GAP = 2.0


@dataclass
class Tally:
    sent: int = 0
    answered: int = 0

    def summary(self) -> str:
        # A request still waiting when the client is stopped counts as lost.
        return f"sent {self.sent}, answered {self.answered}, lost {self.sent - self.answered}"


def run(
    plan: Iterable[tuple[float, str]],
    ask: Callable[[str], bytes | None],
    sleep: Callable[[float], None],
    tally: Tally,
    timeout: float,
) -> None:
    """Send each planned request after its gap; print the reply or report it lost."""
    for gap, request in plan:
        sleep(gap)
        tally.sent += 1
        reply = ask(request)
        if reply is None:
            log(f"no reply to {request} within {timeout} s (lost)")
        else:
            tally.answered += 1
            log(f"{request} -> {reply.decode('utf-8', 'replace').strip()}")


def make_asker(
    sock: socket.socket, timeout: float, clock: Callable[[], float] = time.monotonic
) -> Callable[[str], bytes | None]:
    """``ask(request)``: the answer to it, or None if none came within ``timeout`` s."""

    def ask(request: str) -> bytes | None:
        payload = request.encode("ascii")
        return ask_udp(sock, payload, timeout, accept=lambda reply: protocol.answers(request, reply), clock=clock)

    return ask


def main(argv: list[str] | None = None) -> int:
    parser = make_parser("datetime-client", "UDP date/time client: asks for the date or time at random intervals.")
    add_endpoint(parser, host="datetime-server", port=PORTS["datetime"])
    parser.add_argument("--request", choices=protocol.REQUESTS, help="always send this (default: pick at random)")
    parser.add_argument("--count", type=int, default=0, help="requests to send; 0 = until stopped (default)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for each reply")
    parser.add_argument("--min-gap", type=float, default=DEFAULT_MIN_GAP, help="shortest pause between requests (s)")
    parser.add_argument("--max-gap", type=float, default=DEFAULT_MAX_GAP, help="longest pause between requests (s)")
    args = parse(parser, argv)
    if args.count < 0 or args.timeout <= 0 or not 0 <= args.min_gap <= args.max_gap:
        parser.error("need --count >= 0, --timeout > 0 and 0 <= --min-gap <= --max-gap")

    exit_on_sigterm()
    plan = protocol.schedule(random.Random(), args.count, args.min_gap, args.max_gap, args.request)
    tally = Tally()
    status = 0
    try:
        with udp_socket(args.host, args.port) as sock:
            log(f"datetime-client asking {args.host}:{args.port}/udp")
            run(plan, make_asker(sock, args.timeout), time.sleep, tally, args.timeout)
    except OSError as exc:
        status = fail(f"{args.host}:{args.port}: {exc}")
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through exit_on_sigterm: still print the summary
        pass
    log(tally.summary())
    return status
