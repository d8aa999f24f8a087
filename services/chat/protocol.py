"""Chat room protocol: logins, joins, leaves and messages, as pure code.

Wire format (TCP, LF-terminated UTF-8 lines, see ``services/framing.py``):

* The first line a connection sends is its login name: 1-32 ASCII letters,
  digits, ``_``, ``-`` or ``.``; unique ignoring case; ``Server`` is reserved.
  Surrounding spaces are ignored. A refused name gets one line
  ``ERROR <reason>`` and the connection may try another name.
* An accepted name gets no special reply: every member, the newcomer
  included, receives the join notice, and the newcomer takes it as the "OK".
* After that each line is a message. It reaches every *other* member as
  ``<name>: <text>``. ``quit`` (surrounding spaces ignored) leaves; so does
  closing the connection or losing it. The others get the leave notice.
* Control characters (C0 except TAB, DEL, C1) and the bidi override/isolate
  characters are replaced by U+FFFD, so no member can ring bells, move the
  cursor or reverse text on another member's terminal. A message that is
  empty or only whitespace is dropped: there is nothing to show.
* A line that breaks the framing rules gets ``ERROR <reason>`` to its sender
  only; the session goes on.

Sample exchange (``C1>`` is what Batman's client sends, ``C1<`` what it gets)::

    C1> Batman
    C1< Server: time=10:01:00 Batman has joined. Member count=1
    C2> batman
    C2< ERROR name 'batman' is already taken
    C2> Voldemort
    C1< Server: time=11:01:00 Voldemort has joined. Member count=2
    C2< Server: time=11:01:00 Voldemort has joined. Member count=2
    C1> Anyone here?
    C2< Batman: Anyone here?
    C1> quit
    C2< Server: time=13:01:00 Batman has left. Member count=1

This module has no sockets and no clock: the server passes the time in and
acts on the returned events, in order (as h11's ``Connection`` returns events):
a :class:`Joined` or :class:`Left` tells it a member came in or went out (the
server never has to ask the room), and each :class:`Delivery` is a line to
write. A member is any hashable object the caller chooses (the server uses its
connection object).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Hashable, KeysView
from typing import Generic, NamedTuple, TypeVar

from services.framing import FramingError

#: Longest login name, in characters (all ASCII, so also bytes).
MAX_NAME = 32
#: Most members at once. An IRC network channel rarely holds more; the server
#: stays fast well beyond the 1000 members the benchmark uses.
MAX_MEMBERS = 4096
#: The name notices are sent under; no member may take it.
SERVER_NAME = "Server"
#: A line that is exactly this (after stripping spaces) leaves the room.
QUIT = "quit"

NAME_RE = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_NAME}}}", re.ASCII)
NAME_RULE = f"name must be 1-{MAX_NAME} letters, digits, '_', '-' or '.'"

#: Characters that must never reach a terminal: C0 controls except TAB (a tab
#: only moves to the next column), DEL, C1 controls (U+0080-U+009F: 8-bit CSI
#: and friends), and the bidi embedding/override/isolate characters that can
#: make a line display as something other than what was sent.
CONTROL_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
REPLACEMENT = "\ufffd"

Member = TypeVar("Member", bound=Hashable)
#: The time of an event: a time or datetime, or a string already formatted ``HH:MM:SS``.
Now = dt.time | dt.datetime | str


class LoginError(ValueError):
    """A login name was refused; ``str(err)`` is the reason sent after ``ERROR``."""


class To(enum.Enum):
    """Who a :class:`Delivery` is for, relative to the connection that caused it."""

    SENDER = "sender"  # only the connection whose line this answers
    OTHERS = "others"  # every member except the sender
    ALL = "all"  # every member, the sender included if it is one
    HANGUP = "hangup"  # no line: close the sender's connection after what is queued for it


class Delivery(NamedTuple):
    to: To
    line: str = ""


HANGUP = Delivery(To.HANGUP)


class Joined(NamedTuple):
    """The sender's login was accepted: it is a member now, called ``name`` (its join notice follows)."""

    name: str


class Left(NamedTuple):
    """The member, called ``name``, is out of the room (its leave notice follows)."""

    name: str


#: What an event method returns a list of.
Event = Delivery | Joined | Left


def clock(now: Now) -> str:
    """The time as notices show it, ``HH:MM:SS``; a string is taken as already formatted."""
    return now if isinstance(now, str) else now.strftime("%H:%M:%S")


def scrub(text: str) -> str:
    """``text`` with every control character replaced, safe to print on a terminal."""
    # search() first: almost every line is clean, and a miss costs one C-level scan.
    return CONTROL_RE.sub(REPLACEMENT, text) if CONTROL_RE.search(text) else text


def check_name(name: str) -> str:
    """The name without surrounding spaces if it is well formed; else :class:`LoginError`."""
    name = name.strip()
    if not NAME_RE.fullmatch(name):
        raise LoginError(NAME_RULE)
    if name.casefold() == SERVER_NAME.casefold():
        raise LoginError(f"name {name!r} is reserved")
    return name


def error(reason: object) -> Delivery:
    return Delivery(To.SENDER, f"ERROR {reason}")


class Room(Generic[Member]):
    """Who is in the room, and what each event makes the server send.

    Every event method returns a list of :class:`Event`: membership changes
    (:class:`Joined`, :class:`Left`) first, then the lines in the order they
    must go out. Nothing here writes anything.
    """

    def __init__(self, max_members: int = MAX_MEMBERS) -> None:
        self.max_members = max_members
        self.names: dict[Member, str] = {}  # member -> name as they typed it
        self._keys: dict[str, Member] = {}  # casefolded name -> member, for uniqueness

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, member: object) -> bool:
        return member in self.names

    @property
    def members(self) -> KeysView[Member]:
        """Every member, in join order (a live view: copy it before changing the room)."""
        return self.names.keys()

    def receive(self, member: Member, line: str | FramingError, now: Now) -> list[Event]:
        """One line (or framing error) from ``member``: a login attempt until it has joined, then a message."""
        if isinstance(line, FramingError):
            return [error(line)]
        if member not in self.names:
            return self.login(member, line, now)
        if line.strip() == QUIT:
            return [*self.leave(member, now), HANGUP]
        return self.say(member, line)

    def login(self, member: Member, name: str, now: Now) -> list[Event]:
        try:
            name = self._admit(name)
        except LoginError as exc:
            return [error(exc)]
        self.names[member] = name
        self._keys[name.casefold()] = member
        return [Joined(name), self.notice(now, f"{name} has joined.")]

    def _admit(self, name: str) -> str:
        name = check_name(name)
        if name.casefold() in self._keys:
            raise LoginError(f"name {name!r} is already taken")
        if len(self.names) >= self.max_members:
            raise LoginError(f"room is full ({self.max_members} members)")
        return name

    def say(self, member: Member, text: str) -> list[Delivery]:
        """A message from a member to every other member; blank messages are dropped."""
        if not text or text.isspace():
            return []
        return [Delivery(To.OTHERS, f"{self.names[member]}: {scrub(text)}")]

    def leave(self, member: Member, now: Now) -> list[Event]:
        """``member`` is gone (quit, closed, lost, dropped); nothing if it never joined."""
        name = self.names.pop(member, None)
        if name is None:
            return []
        del self._keys[name.casefold()]
        return [Left(name), self.notice(now, f"{name} has left.")]

    def shutdown(self, now: Now) -> list[Delivery]:
        """The server is stopping: tell every member before the connections close."""
        return [Delivery(To.ALL, f"{SERVER_NAME}: time={clock(now)} server is shutting down.")]

    def notice(self, now: Now, event: str) -> Delivery:
        return Delivery(To.ALL, f"{SERVER_NAME}: time={clock(now)} {event} Member count={len(self.names)}")
