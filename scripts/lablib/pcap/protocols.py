"""What a line of a lab protocol means: ``Chat join: Batman (members=1)``, ``Calc request: 12 + 42``.

The same reading as the Wireshark dissector (wireshark/socklab.lua) gives in its Info
column, from the rules of the protocol cores in ``services/``. One :class:`Reader` per
conversation, fed its lines in the order they completed; lines whose meaning depends on
what came before (the calculator's name line, the chat login) are read with that state.
Pure: text in, :class:`Note` out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.calc import protocol as calc
from services.chat import protocol as chat
from services.datetime import protocol as datetime_protocol

#: Characters of message text shown in a note (the dissector's Info column shows 60).
NOTE_TEXT = 60
TITLES = {"echo": "Echo", "datetime": "Date/time", "calc": "Calc", "chat": "Chat"}

CHAT_EVENT_RE = re.compile(r"^Server: time=(\d\d:\d\d:\d\d) (.+?) has (joined|left)\. Member count=(\d+)$")
CHAT_SHUTDOWN_RE = re.compile(r"^Server: time=\d\d:\d\d:\d\d server is shutting down\.$")
CHAT_RELAY_RE = re.compile(r"^([A-Za-z0-9_.-]+): (.*)$")
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d$")
TIME_RE = re.compile(r"^\d\d:\d\d:\d\d$")
ERROR_PREFIX = "ERROR "


@dataclass(frozen=True)
class Note:
    """One line's meaning: ``kind`` for code (login, join, leave, say, relay, name, request,
    result, reply, error, quit, line) and ``info`` for people."""

    kind: str
    info: str


def shorten(text: str, limit: int = NOTE_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Reader:
    """Base reader: every line is just a line. Subclasses read one lab protocol."""

    title = "Line"

    def note(self, text: str, from_client: bool) -> Note:
        return self._note("line", f"line: {shorten(text)}")

    def _note(self, kind: str, info: str) -> Note:
        return Note(kind, f"{self.title} {info}")

    def _error(self, text: str) -> Note | None:
        if text.startswith(ERROR_PREFIX):
            return self._note("error", f"error: {shorten(text[len(ERROR_PREFIX) :].strip())}")
        return None


class EchoReader(Reader):
    title = TITLES["echo"]

    def note(self, text: str, from_client: bool) -> Note:
        if from_client:
            return self._note("request", f"request: {shorten(text)}")
        return self._error(text) or self._note("reply", f"reply: {shorten(text)}")


class DatetimeReader(Reader):
    title = TITLES["datetime"]

    def note(self, text: str, from_client: bool) -> Note:
        word = text.strip()
        if from_client:
            known = "" if word in datetime_protocol.REQUESTS else " (unknown request)"
            return self._note("request", f"request: {shorten(word)}{known}")
        if DATE_RE.match(word):
            return self._note("reply", f"reply: {word} (date)")
        if TIME_RE.match(word):
            return self._note("reply", f"reply: {word} (time)")
        return self._error(word) or self._note("reply", f"reply: {shorten(word)}")


class CalcReader(Reader):
    """The first accepted line is the client's name; then requests, results and ``q``."""

    title = TITLES["calc"]

    def __init__(self) -> None:
        self.name: str | None = None

    def note(self, text: str, from_client: bool) -> Note:
        if not from_client:
            return self._error(text) or self._note("result", f"result: {shorten(text)}")
        if calc.is_quit(text):
            return self._note("quit", "quit")
        if self.name is None:
            try:
                self.name = calc.check_name(text)
            except calc.CalcError:
                return self._note("name", f"name refused: {shorten(text.strip())}")
            return self._note("name", f"name: {shorten(self.name)}")
        return self._note("request", f"request: {shorten(' '.join(text.split()))}")


class ChatReader(Reader):
    """Logins until the server announces the member's join; then messages, relays, joins, leaves."""

    title = TITLES["chat"]

    def __init__(self) -> None:
        self.name: str | None = None
        self.pending: str | None = None  # the login sent and not (yet) refused

    def note(self, text: str, from_client: bool) -> Note:
        return self._from_client(text) if from_client else self._from_server(text)

    def _from_client(self, text: str) -> Note:
        if self.name is None and self.pending is not None:  # a login not refused before the next line stands
            self.name = self.pending
        if self.name is None:
            try:
                self.pending = chat.check_name(text)
            except chat.LoginError:
                self.pending = None
            return self._note("login", f"login: {shorten(text.strip())}")
        if text.strip() == chat.QUIT:
            return self._note("quit", f"quit ({self.name})")
        return self._note("say", f"{self.name} says: {shorten(text)}")

    def _from_server(self, text: str) -> Note:
        event = CHAT_EVENT_RE.match(text)
        if event:
            _, who, verb, count = event.groups()
            if self.name is None and who == self.pending:
                self.name = who
            kind = "join" if verb == "joined" else "leave"
            return self._note(kind, f"{kind}: {who} (members={count})")
        if CHAT_SHUTDOWN_RE.match(text):
            return self._note("leave", "server shutting down")
        error = self._error(text)
        if error:
            self.pending = None if self.name is None else self.pending
            return error
        relay = CHAT_RELAY_RE.match(text)
        if relay and relay.group(1) != chat.SERVER_NAME:
            return self._note("relay", f"{relay.group(1)}: {shorten(relay.group(2))}")
        return self._note("line", f"line: {shorten(text)}")


READERS: dict[str, type[Reader]] = {
    "echo": EchoReader,
    "datetime": DatetimeReader,
    "calc": CalcReader,
    "chat": ChatReader,
}


def reader_for(protocol: str | None) -> Reader:
    """A fresh reader for a conversation of ``protocol`` (a plain one for an unknown protocol)."""
    return READERS.get(protocol or "", Reader)()
