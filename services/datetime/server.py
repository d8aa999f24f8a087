"""Date/time server: the UDP receive-reply loop (``services.udp.serve_udp``), answering with the local date or time."""

from __future__ import annotations

from datetime import datetime

from services.cli import PORTS, SERVER_HOST, add_endpoint, make_parser, parse
from services.datetime import protocol
from services.udp import serve_udp


def reply_now(data: bytes) -> bytes:
    # datetime.now() is local time, so the TZ variable (compose.yaml's TZ) decides the zone.
    return protocol.reply(data, datetime.now())


def main(argv: list[str] | None = None) -> int:
    parser = make_parser("datetime-server", "UDP date/time server: answers SEND_DATE and SEND_TIME.")
    add_endpoint(parser, host=SERVER_HOST, port=PORTS["datetime"])
    args = parse(parser, argv)
    return serve_udp("datetime-server", args.host, args.port, reply_now)
