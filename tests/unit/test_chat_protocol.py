"""The chat room's rules, without sockets: logins, notices, relays, leaves, scrubbing."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.chat.protocol import (
    HANGUP,
    MAX_NAME,
    NAME_RULE,
    Delivery,
    Event,
    Joined,
    Left,
    Room,
    To,
    check_name,
    clock,
    scrub,
)
from services.framing import FramingError

T = "10:01:00"


def joined(name: str, count: int, time: str = T) -> list[Event]:
    """The events of an accepted login: the membership change, then the notice to everyone."""
    return [Joined(name), Delivery(To.ALL, f"Server: time={time} {name} has joined. Member count={count}")]


def left(name: str, count: int, time: str = T) -> list[Event]:
    return [Left(name), Delivery(To.ALL, f"Server: time={time} {name} has left. Member count={count}")]


def refused(reason: str) -> list[Delivery]:
    return [Delivery(To.SENDER, f"ERROR {reason}")]


def room_with(*names: str) -> Room[str]:
    room: Room[str] = Room()
    for name in names:
        room.receive(name.lower(), name, T)
    return room


def test_course_session() -> None:
    """The exchange from the course text, line for line."""
    room: Room[str] = Room()
    assert room.receive("c1", "Batman", "10:01:00") == joined("Batman", 1, "10:01:00")
    assert room.receive("c2", "Voldemort", "11:01:00") == joined("Voldemort", 2, "11:01:00")
    assert room.receive("c1", "Anyone here?", "11:02:00") == [Delivery(To.OTHERS, "Batman: Anyone here?")]
    assert room.receive("c2", "Crucio!", "11:03:00") == [Delivery(To.OTHERS, "Voldemort: Crucio!")]
    assert room.receive("c1", "quit", "13:01:00") == [*left("Batman", 1, "13:01:00"), HANGUP]
    assert list(room.members) == ["c2"]


def test_counts_follow_joins_and_leaves() -> None:
    room: Room[str] = Room()
    for i, name in enumerate(["a", "b", "c"], start=1):
        assert room.receive(name, name, T) == joined(name, i)
    assert room.leave("b", T) == left("b", 2)
    assert room.receive("d", "d", T) == joined("d", 3)
    assert len(room) == 3
    assert list(room.members) == ["a", "c", "d"]


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "bat man",
        "bat/man",
        "b@tman",
        "x" * (MAX_NAME + 1),
        "Bätman",
        "名前",
        "bat\tman",
        "bat\x1bman",
        "a,b",
    ],
)
def test_bad_names_refused(name: str) -> None:
    room: Room[str] = Room()
    assert room.receive("c", name, T) == refused(NAME_RULE)
    assert len(room) == 0


@pytest.mark.parametrize("name", ["B", "x" * MAX_NAME, "bat_man", "bat-man", "bat.man", "007", "...", "-_-"])
def test_good_names_accepted(name: str) -> None:
    assert Room().receive("c", name, T) == joined(name, 1)


def test_surrounding_spaces_are_not_part_of_the_name() -> None:
    assert Room().receive("c", "  Batman \t", T) == joined("Batman", 1)


@pytest.mark.parametrize("second", ["batman", "BATMAN", "BatMan", " batman "])
def test_names_unique_ignoring_case(second: str) -> None:
    room = room_with("Batman")
    assert room.receive("c2", second, T) == refused(f"name {second.strip()!r} is already taken")
    assert len(room) == 1


@pytest.mark.parametrize("name", ["Server", "server", "SERVER", "sErVeR"])
def test_server_is_reserved(name: str) -> None:
    assert Room().receive("c", name, T) == refused(f"name {name!r} is reserved")


def test_refused_login_may_try_again() -> None:
    room = room_with("Batman")
    assert room.receive("c2", "batman", T) == refused("name 'batman' is already taken")
    assert room.receive("c2", "bad name", T) == refused(NAME_RULE)
    assert room.receive("c2", "Robin", T) == joined("Robin", 2)
    assert room.receive("c2", "hello", T) == [Delivery(To.OTHERS, "Robin: hello")]


def test_name_free_again_after_leaving() -> None:
    room = room_with("Batman")
    room.leave("batman", T)
    assert room.receive("other", "BATMAN", T) == joined("BATMAN", 1)


def test_room_full() -> None:
    room: Room[int] = Room(max_members=2)
    room.receive(1, "a", T)
    room.receive(2, "b", T)
    assert room.receive(3, "c", T) == refused("room is full (2 members)")
    room.leave(1, T)
    assert room.receive(3, "c", T) == joined("c", 2)


@pytest.mark.parametrize("line", ["quit", "  quit  ", "quit\t"])
def test_quit_leaves_and_hangs_up(line: str) -> None:
    room = room_with("Batman", "Robin")
    assert room.receive("batman", line, T) == [*left("Batman", 1), HANGUP]
    assert "batman" not in room


@pytest.mark.parametrize("line", ["QUIT", "Quit", "quit now", "/quit", "q"])
def test_other_lines_are_messages(line: str) -> None:
    room = room_with("Batman", "Robin")
    assert room.receive("batman", line, T) == [Delivery(To.OTHERS, f"Batman: {line}")]


def test_quit_as_first_line_is_a_login_name() -> None:
    """Before joining, every line is a name attempt; ``quit`` is a valid name."""
    assert Room().receive("c", "quit", T) == joined("quit", 1)


def test_leave_of_non_member_says_nothing() -> None:
    room = room_with("Batman")
    assert room.leave("stranger", T) == []
    assert room.leave("batman", T) == left("Batman", 0)
    assert room.leave("batman", T) == []


@pytest.mark.parametrize("line", ["", " ", "\t", "   \t "])
def test_blank_messages_not_relayed(line: str) -> None:
    assert room_with("Batman").receive("batman", line, T) == []


def test_message_keeps_its_spaces() -> None:
    room = room_with("Batman")
    assert room.receive("batman", "  two  spaces ", T) == [Delivery(To.OTHERS, "Batman:   two  spaces ")]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J\x1b[31mred", "\ufffd[2J\ufffd[31mred"),  # terminal escapes
        ("ding\x07", "ding\ufffd"),  # bell
        ("a\x00b\x7fc", "a\ufffdb\ufffdc"),  # NUL, DEL
        ("over\rwrite", "over\ufffdwrite"),  # a lone CR would overwrite the line
        ("\x9b31m", "\ufffd31m"),  # C1 CSI
        ("\u202eevil", "\ufffdevil"),  # right-to-left override
        ("tab\tstays", "tab\tstays"),
        ("héllo wörld ✓ 名前", "héllo wörld ✓ 名前"),
    ],
)
def test_control_characters_scrubbed(text: str, shown: str) -> None:
    room = room_with("Batman")
    assert room.receive("batman", text, T) == [Delivery(To.OTHERS, f"Batman: {shown}")]


@given(st.text())
def test_scrub_leaves_no_controls(text: str) -> None:
    out = scrub(text)
    assert len(out) == len(text)
    assert all(ch == "\t" or (ord(ch) >= 0x20 and not 0x7F <= ord(ch) <= 0x9F) for ch in out)


def test_only_controls_is_not_blank() -> None:
    """A line of escapes is shown (scrubbed), so the others see someone sent something odd."""
    assert room_with("B").receive("b", "\x1b\x07", T) == [Delivery(To.OTHERS, "B: \ufffd\ufffd")]


@pytest.mark.parametrize("member", ["newcomer", "batman"])
def test_framing_error_goes_to_sender_only(member: str) -> None:
    room = room_with("Batman")
    err = FramingError("line of 2048 bytes exceeds 1024")
    assert room.receive(member, err, T) == [Delivery(To.SENDER, "ERROR line of 2048 bytes exceeds 1024")]
    assert len(room) == 1


def test_shutdown_notice() -> None:
    assert room_with("a").shutdown("23:59:59") == [Delivery(To.ALL, "Server: time=23:59:59 server is shutting down.")]


@pytest.mark.parametrize(
    "now",
    [dt.time(9, 5, 7), dt.datetime(2024, 1, 2, 9, 5, 7), "09:05:07"],
)
def test_time_given_as_time_datetime_or_text(now: dt.time | dt.datetime | str) -> None:
    assert clock(now) == "09:05:07"
    assert Room().receive("c", "a", now) == joined("a", 1, "09:05:07")


@pytest.mark.parametrize("name", ["Batman", " Batman ", "a.b-c_d"])
def test_check_name_strips(name: str) -> None:
    assert check_name(name) == name.strip()
