"""Echo protocol: the server sends the text back upper-cased.

UDP (port 12000): one request per datagram, at most ``MAX_DATAGRAM`` bytes of
UTF-8. The reply is one datagram holding the same text upper-cased, byte for
byte otherwise (whitespace and a trailing LF are kept). A datagram that is too
big or not UTF-8 gets ``ERROR <reason>`` plus LF instead.

TCP (port 12000): LF-terminated UTF-8 lines (``services/framing.py``); each line
is answered by the line upper-cased. A line the framing rejects is answered by
``ERROR <reason>`` and the connection goes on.

Sample exchange (TCP, ``>`` client to server, ``<`` server to client)::

    > hello, world
    < HELLO, WORLD
    > caf\\xc3                      (bytes that are not UTF-8)
    < ERROR invalid UTF-8 at byte 3
"""

from __future__ import annotations

from services.framing import FramingError, decode_datagram, encode_line

#: Largest UDP request accepted, in bytes: plenty for a line someone types. (Over
#: 1472 bytes a datagram no longer fits one 1500-byte Ethernet frame, and Wireshark
#: shows it as IP fragments.)
MAX_DATAGRAM = 2048


def error_line(exc: Exception) -> bytes:
    return encode_line(f"ERROR {exc}")


def udp_reply(data: bytes) -> bytes:
    """The reply datagram for one request datagram."""
    try:
        text = decode_datagram(data, MAX_DATAGRAM, strip=False)
    except FramingError as exc:
        return error_line(exc)
    return text.upper().encode("utf-8")


def tcp_reply(line: str | FramingError) -> bytes:
    """The reply line (with its LF) for one item from ``LineDecoder.feed``."""
    if isinstance(line, FramingError):
        return error_line(line)
    try:
        return encode_line(line.upper())
    except FramingError as exc:  # a lone CR inside the line would end it early on the wire
        return error_line(exc)
