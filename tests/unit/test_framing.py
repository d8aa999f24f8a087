"""services/framing.py: line decoding under every way TCP can cut or merge a stream."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.framing import (
    MAX_LINE,
    FramingError,
    LineDecoder,
    decode_datagram,
    encode_line,
    encode_lines,
    preview,
)


def feed_all(decoder: LineDecoder, chunks: list[bytes]) -> list[str]:
    """Every item fed and closed, errors shown as 'ERR <reason>' so lists compare."""
    items = [item for chunk in chunks for item in decoder.feed(chunk)] + decoder.close()
    return [f"ERR {item}" if isinstance(item, FramingError) else item for item in items]


def test_byte_by_byte_equals_whole() -> None:
    data = b"12 + 42\nhello\r\n\nlast"
    assert feed_all(LineDecoder(), [data[i : i + 1] for i in range(len(data))]) == ["12 + 42", "hello", "", "last"]


def test_coalesced_lines_in_one_chunk() -> None:
    d = LineDecoder()
    assert d.feed(b"a\nb\nc\n") == ["a", "b", "c"]
    assert d.pending == 0


def test_partial_line_is_held_until_lf() -> None:
    d = LineDecoder()
    assert d.feed(b"hel") == []
    assert d.pending == 3
    assert d.feed(b"lo\nwor") == ["hello"]
    assert d.feed(b"ld\n") == ["world"]


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"crlf\r\n", ["crlf"]),
        (b"cr split\r", []),  # the CR waits: the LF may follow in the next segment
        (b"inner\rcr\n", ["inner\rcr"]),  # only a CR right before LF is a line ending
        (b"two\r\r\n", ["two\r"]),
    ],
)
def test_cr_handling(data: bytes, lines: list[str]) -> None:
    assert LineDecoder().feed(data) == lines


def test_cr_and_lf_in_separate_chunks() -> None:
    d = LineDecoder()
    assert d.feed(b"abc\r") == []
    assert d.feed(b"\n") == ["abc"]


def test_invalid_utf8_mid_stream_then_recovery() -> None:
    d = LineDecoder()
    items = d.feed(b"ok\ncaf\xc3\nnext\n")
    assert items[0] == "ok"
    assert isinstance(items[1], FramingError)
    assert str(items[1]) == "invalid UTF-8 at byte 3"
    assert items[2] == "next"


def test_multibyte_character_split_across_chunks() -> None:
    d = LineDecoder()
    assert d.feed("caf\u00e9".encode()[:4]) == []
    assert d.feed("caf\u00e9\n".encode()[4:]) == ["caf\u00e9"]


def test_line_at_the_limit_is_accepted_one_over_is_not() -> None:
    d = LineDecoder(max_line=8)
    assert d.feed(b"12345678\n") == ["12345678"]
    assert d.feed(b"12345678\r\n") == ["12345678"]
    (err,) = d.feed(b"123456789\n")
    assert str(err) == "line of 9 bytes exceeds 8"


def test_one_mib_line_is_discarded_with_bounded_memory() -> None:
    d = LineDecoder()
    chunk = b"x" * 4096
    for _ in range(256):  # 1 MiB without a newline
        assert d.feed(chunk) == []
        assert d.pending <= MAX_LINE + 1
    items = d.feed(b"tail\nafter\n")
    assert [str(i) for i in items] == [f"line of {256 * 4096 + 4} bytes exceeds {MAX_LINE}", "after"]
    assert isinstance(items[0], FramingError)
    assert d.pending == 0


def test_overlong_line_in_a_single_chunk_then_stream_continues() -> None:
    d = LineDecoder(max_line=4)
    items = d.feed(b"ab\n" + b"y" * 100 + b"\ncd\n")
    assert [str(i) for i in items] == ["ab", "line of 100 bytes exceeds 4", "cd"]


def test_final_line_without_lf_counts_on_close() -> None:
    d = LineDecoder()
    assert d.feed(b"one\ntwo") == ["one"]
    assert d.close() == ["two"]
    assert d.close() == []


def test_close_during_overlong_line_reports_it() -> None:
    d = LineDecoder(max_line=4)
    d.feed(b"z" * 10)
    assert [str(i) for i in d.close()] == ["line of 10 bytes exceeds 4"]


def test_max_line_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LineDecoder(max_line=0)


@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=20))
def test_any_split_yields_the_same_lines(data: bytes, cuts: list[int]) -> None:
    # A small limit makes over-long lines common in the generated streams.
    data = data.replace(b"Z", b"\n")  # more newlines than random bytes alone would give
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    assert feed_all(LineDecoder(max_line=16), chunks) == feed_all(LineDecoder(max_line=16), [data])


def test_encode_line_and_lines() -> None:
    assert encode_line("h\u00e9") == b"h\xc3\xa9\n"
    assert encode_lines(["a", "b"]) == b"a\nb\n"
    for bad in ("a\nb", "a\rb"):
        with pytest.raises(FramingError):
            encode_line(bad)


def test_decode_datagram() -> None:
    assert decode_datagram(b"  SEND_TIME\r\n", 16) == "SEND_TIME"
    assert decode_datagram(b" keep \n", 16, strip=False) == " keep \n"
    with pytest.raises(FramingError, match="^datagram of 17 bytes exceeds 16$"):
        decode_datagram(b"x" * 17, 16)
    with pytest.raises(FramingError, match="^invalid UTF-8 at byte 1$"):
        decode_datagram(b"a\xff", 16)


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (b"plain", "plain"),
        (b"tab\there\n", "tab\\there\\n"),
        (b"\x00\xff", "\\x00\\xff"),
        ("caf\u00e9".encode(), "caf\u00e9"),
        (b"a" * 50, "a" * 40 + "..."),
    ],
)
def test_preview_is_short_and_printable(data: bytes, shown: str) -> None:
    assert preview(data) == shown
