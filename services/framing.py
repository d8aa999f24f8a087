"""Newline-delimited UTF-8 text framing, shared by every TCP service.

TCP is a byte stream: one ``recv`` may hold half a line, or three lines and a
bit. :class:`LineDecoder` turns whatever arrives into whole lines, so no
service ever parses a partial request.

Wire rules (the same for every socklab TCP protocol):

* a line ends with LF; a CR just before the LF is dropped (so CRLF works);
* a line is at most ``max_line`` bytes, not counting the line ending;
* a line must be valid UTF-8.

A line that breaks a rule does not end the stream: the decoder yields a
:class:`FramingError` in that line's place and carries on with the next line,
so a server can reply ``ERROR <reason>`` and keep the session. An over-long
line is discarded up to its newline without buffering it (memory stays
bounded however long the line is).

>>> d = LineDecoder(max_line=16)
>>> d.feed(b"12 + 4")
[]
>>> d.feed(b"2\\r\\nq\\n")
['12 + 42', 'q']
"""

from __future__ import annotations

from collections.abc import Iterable

#: Longest accepted line in bytes, without its line ending. Long enough for any
#: chat message a person types; short enough that a server holds at most this
#: much of a partial line per client.
MAX_LINE = 1024

LF = b"\n"
CR = b"\r"

#: How much of an untrusted request an error message or log line quotes.
PREVIEW_BYTES = 40


class FramingError(ValueError):
    """A line broke the framing rules; ``str(err)`` is a reason fit for a reply."""


class LineDecoder:
    """Incremental decoder: bytes in, whole lines (or errors) out.

    ``feed`` returns a list whose items are ``str`` (a decoded line without its
    ending) or :class:`FramingError` (a line that was rejected).
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError(f"max_line must be at least 1, not {max_line}")
        self.max_line = max_line
        self._buf = bytearray()
        # Bytes of an over-long line seen so far while discarding it, else 0.
        self._discarding = 0

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held in the buffer."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[str | FramingError]:
        """Add received bytes; return every line they complete, in order."""
        out: list[str | FramingError] = []
        start = 0
        if self._discarding:
            start = self._skip_overlong(data, out)
            if start < 0:
                return out
        while True:
            nl = data.find(LF, start)
            if nl < 0:
                break
            if self._buf:
                self._buf += data[start:nl]
                raw = bytes(self._buf)
                self._buf.clear()
            else:
                raw = data[start:nl]
            out.append(self._decode(raw))
            start = nl + 1
        self._keep_partial(data, start, out)
        return out

    def close(self) -> list[str | FramingError]:
        """End of stream: a final line without LF still counts as a line."""
        out: list[str | FramingError] = []
        if self._discarding:
            out.append(self._overlong_error(self._discarding))
            self._discarding = 0
        elif self._buf:
            out.append(self._decode(bytes(self._buf)))
        self._buf.clear()
        return out

    def _keep_partial(self, data: bytes, start: int, out: list[str | FramingError]) -> None:
        rest = len(data) - start
        if len(self._buf) + rest > self.max_line + 1:  # +1: room for a CR before LF
            self._discarding = len(self._buf) + rest
            self._buf.clear()
        elif rest:
            self._buf += data[start:]

    def _skip_overlong(self, data: bytes, out: list[str | FramingError]) -> int:
        """Discard the rest of an over-long line; return where the next line starts, or -1."""
        nl = data.find(LF)
        if nl < 0:
            self._discarding += len(data)
            return -1
        out.append(self._overlong_error(self._discarding + nl))
        self._discarding = 0
        return nl + 1

    def _overlong_error(self, size: int) -> FramingError:
        return FramingError(f"line of {size} bytes exceeds {self.max_line}")

    def _decode(self, raw: bytes) -> str | FramingError:
        if raw.endswith(CR):
            raw = raw[:-1]
        if len(raw) > self.max_line:
            return self._overlong_error(len(raw))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return FramingError(f"invalid UTF-8 at byte {exc.start}")


def encode_line(text: str) -> bytes:
    """One line on the wire: UTF-8 and LF. Embedded newlines would split it, so they are refused."""
    if "\n" in text or "\r" in text:
        raise FramingError(f"line contains a line break: {text!r}")
    return text.encode("utf-8") + LF


def encode_lines(lines: Iterable[str]) -> bytes:
    """Several lines as one buffer: one write instead of one per line."""
    return b"".join(encode_line(line) for line in lines)


def decode_datagram(data: bytes, max_size: int, *, strip: bool = True) -> str:
    """A UDP request as text: size checked, UTF-8 checked, surrounding whitespace dropped unless ``strip=False``."""
    if len(data) > max_size:
        raise FramingError(f"datagram of {len(data)} bytes exceeds {max_size}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FramingError(f"invalid UTF-8 at byte {exc.start}") from None
    return text.strip() if strip else text


def preview(data: bytes, limit: int = PREVIEW_BYTES) -> str:
    """Untrusted bytes as one short printable line, for error replies and logs.

    Invalid UTF-8 shows as ``\\xff``, control characters as ``\\n`` or ``\\x00``;
    past ``limit`` bytes the text is cut and ends with ``...``.

    >>> preview(b"SEND_TIME\\n\\xff")
    'SEND_TIME\\\\n\\\\xff'
    """
    text = data[:limit].decode("utf-8", "backslashreplace")
    shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return shown + "..." if len(data) > limit else shown
