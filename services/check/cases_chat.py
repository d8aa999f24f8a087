"""Cases for chat-server: logins, join/leave notices, relayed lines, many members.

``lab`` asks what the course's example shows, in any wording: a join notice
naming the member and the count (``Server: time=10.01 Batman has joined.
Member count=1`` as in the course), each line relayed to the others with the
sender's name (to the sender as well is fine: the course says lines are
broadcast to all clients), a leave notice, unique names.
``strict`` asks for socklab's exact lines (``Server: time=HH:MM:SS Batman has
joined. Member count=1``, ``Batman: Anyone here?``), no echo of a line to its
sender, login rules with ``ERROR`` and retry, leaves on disconnect and reset,
framing, bad input, control characters, 50 members, and a member who stops
reading.

Each case uses fresh names; lines about members of earlier cases (their leave
notices may still be arriving) are set aside, but the member count they carry
is followed, so counts are judged exactly.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable

from services.check import judge
from services.check.common import Pair, bad_line_cases, error_wanted, expect_error, framing_cases, tcp_probe
from services.check.core import Config, case
from services.check.session import CaseFailed, Session, TcpConn

JOIN_RE = re.compile(r"Server: time=(\d{2}):(\d{2}):(\d{2}) (\S+) has joined\. Member count=(\d+)")
LEAVE_RE = re.compile(r"Server: time=(\d{2}):(\d{2}):(\d{2}) (\S+) has left\. Member count=(\d+)")
CONTROL_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
MANY_MEMBERS = 50
#: 50 logins one after another: a second on a quiet machine, many on a loaded one.
MANY_LIMIT = 30.0
#: A member that never reads while another sends this much (more than the kernel buffers between them).
SLOW_LINES = 8000
SLOW_LINE_BYTES = 900
SLOW_LIMIT = 45.0
#: Seconds B may see nothing before the case calls the room stalled. A server that writes to each
#: member in turn stalls for good once S's buffers are full; a correct one on a loaded machine may
#: pause for a second or more between chunks, which is not a stall.
STALL_S = 10.0
#: Seconds a member's screen is read after someone joins (lab), as a person looks at it.
GLANCE_S = 0.5
BAD_NAMES = ["", "Server", "two words", "x" * 33, "a/b", "tab\there"]


class Room:
    """The members one case created."""

    def __init__(self, s: Session, cfg: Config) -> None:
        self.s, self.cfg = s, cfg
        self.members: list[Member] = []
        if s.human:
            # A person opens the room a moment after the last one closed: the server has then told
            # the members of an earlier case goodbye, so their notices do not run into ours.
            time.sleep(GLANCE_S)

    def names(self) -> set[str]:
        return {m.name for m in self.members}

    def foreign(self, line: str) -> bool:
        """A line about a member of an earlier case."""
        return any(judge.mentions(line, n) for n in self.cfg.used_names - self.names())

    def member(self, stem: str, label: str) -> Member:
        m = Member(self, stem, label)
        self.members.append(m)
        return m


class Member:
    def __init__(self, room: Room, stem: str, label: str) -> None:
        self.room = room
        self.name = room.cfg.fresh_name(stem)
        self.conn: TcpConn = room.s.tcp(label)
        self.count: int | None = None
        #: Lines passed over by the last ``wait``.
        self.passed: list[str] = []

    def skip(self, line: str) -> bool:
        if not self.room.foreign(line):
            return False
        count = judge.count_in_notice(line, sorted(self.room.cfg.used_names))
        if count is not None:
            self.count = count
        return True

    def wait(self, accept: Callable[[str], bool], expected: str) -> str:
        seen: list[str] = []

        def take(line: str) -> bool:
            if accept(line):
                return True
            seen.append(line)
            return False

        try:
            return self.conn.until(take, expected, skip=self.skip)
        finally:
            self.passed = [line for line in seen if not self.room.foreign(line)]

    def next(self, expected: str) -> str:
        """Strict: the next line that is not about an earlier case's member."""
        while True:
            line = self.conn.line(expected)
            if not self.skip(line):
                return line

    def say(self, text: str) -> None:
        self.conn.send(text)

    def glance(self) -> None:
        """Lab: read what arrives until a short quiet (lines about earlier cases' members update the count)."""
        for line in self.conn.quiet(GLANCE_S):
            self.skip(line)


# -- lab-level notices: any wording that names the member and the count ------------------------------


def notice_about(member: Member, name: str) -> int:
    """Lab: wait at ``member`` for a line naming ``name`` with a count; return the count."""
    names = sorted(member.room.cfg.used_names)

    def accept(line: str) -> bool:
        return judge.count_about(line, name, names) is not None

    line = member.wait(accept, f"a notice naming {name} with the member count")
    return judge.count_about(line, name, names)  # type: ignore[return-value]


def join_lab(room: Room, stem: str, label: str) -> Member:
    """Log a new member in; every member (the newcomer too) must see a notice with the new count."""
    new = room.member(stem, label)
    new.say(new.name)
    new.count = notice_about(new, new.name)
    for old in room.members[:-1]:
        got = notice_about(old, new.name)
        want = (old.count or 0) + 1
        if got != want:
            raise CaseFailed(f"{old.conn.label}: the join notice for {new.name} says count {got}, expected {want}")
        old.count = got
        if new.count != got:
            raise CaseFailed(f"{new.conn.label}: the newcomer's own join notice says count {new.count}, others {got}")
    return new


def enter(room: Room, stem: str, label: str) -> Member:
    """Lab: log a new member in as a person would: type the name, wait to see oneself in (a notice
    naming oneself with the count). The others' screens are then read until quiet, so that the next
    line they get does not run into the join notice (a server may end its lines with no newline)."""
    new = room.member(stem, label)
    new.say(new.name)
    new.count = notice_about(new, new.name)
    for old in room.members[:-1]:
        old.glance()
    return new


def relayed(member: Member, sender: Member, text: str) -> str:
    """Lab: wait at ``member`` for ``text`` relayed with the sender's name."""
    return member.wait(
        lambda line: text in line and judge.mentions(line, sender.name),
        f"{text!r} relayed with the sender's name {sender.name}",
    )


TRIO = (("Batman", "A"), ("Voldemort", "B"), ("Robin", "C"))  # (name stem, connection label)


def trio(room: Room, join: Callable[[Room, str, str], Member]) -> tuple[Member, Member, Member]:
    """Three members in the room, joined one after the other with ``join`` (lab or strict judging)."""
    a, b, c = (join(room, stem, label) for stem, label in TRIO)
    return a, b, c


def say_to(sender: Member, receivers: list[Member], text: str, check: Callable[[Member, Member, str], object]) -> None:
    """``sender`` says ``text``; ``check`` judges each receiver's copy of it, in order."""
    sender.say(text)
    for receiver in receivers:
        check(receiver, sender, text)


@case("chat.join-notice", "lab", "on join, every member (the newcomer too) gets a notice with the name and count")
def join_notice(s: Session, cfg: Config) -> None:
    room = Room(s, cfg)
    join_lab(room, "Batman", "A")
    join_lab(room, "Voldemort", "B")


@case("chat.relay", "lab", "a member's line reaches every other member with the sender's name (echo allowed)")
def relay(s: Session, cfg: Config) -> None:
    room = Room(s, cfg)
    a, b, c = trio(room, enter)
    say_to(a, [b, c], "Anyone here? (relay)", relayed)


@case("chat.no-self-echo", "strict", "a member's own line is not sent back to it")
def no_self_echo(s: Session, cfg: Config) -> None:
    room = Room(s, cfg)
    a, b = join_lab(room, "Batman", "A"), join_lab(room, "Voldemort", "B")
    a.say("Anyone here? (echo test)")
    relayed(b, a, "Anyone here? (echo test)")
    # B answers only after A's line went out, so any echo to A arrives before B's answer.
    b.say("Crucio!")
    relayed(a, b, "Crucio!")
    echoes = [line for line in a.passed if "Anyone here? (echo test)" in line]
    if echoes:
        raise CaseFailed(f"A: its own line came back to it: {echoes[0]!r}")


@case("chat.leave-notice", "lab", "'quit' makes the others get a notice with the name and a lower count")
def leave_notice(s: Session, cfg: Config) -> None:
    room = Room(s, cfg)
    a, b = enter(room, "Batman", "A"), enter(room, "Voldemort", "B")
    before = b.count or 0  # members once B was in (members of earlier cases may still be leaving)
    b.say("quit")
    names = sorted(cfg.used_names)

    def accept(line: str) -> bool:
        count = judge.count_about(line, b.name, names)
        return count is not None and count < before

    got = judge.count_about(a.wait(accept, f"a notice naming {b.name} with a count below {before}"), b.name, names)
    if not got:
        raise CaseFailed(f"A: the leave notice for {b.name} says count {got}, but A is still in the room")


@case("chat.unique-names", "lab", "a second login with a taken name is not let in")
def unique_names(s: Session, cfg: Config) -> None:
    room = Room(s, cfg)
    a = enter(room, "Batman", "A")
    dup = s.tcp("D")
    dup.send(a.name)
    answer = dup.next_line()  # whatever the second one is told (an error, a prompt, nothing, a close)
    if answer is not None and judge.mentions(answer, a.name) and judge.count_in_notice(answer, [a.name]) is not None:
        raise CaseFailed(f"D: a second {a.name} was let in: {answer!r}")
    c = enter(room, "Robin", "C")
    # Members of earlier cases may still be leaving, which only lowers the count.
    if (c.count or 0) > (a.count or 0) + 1:
        raise CaseFailed(
            f"C: {c.name}'s join notice counts {c.count} members; with {a.name} in at {a.count}, "
            f"and the second {a.name} refused, it would be at most {(a.count or 0) + 1}"
        )


# -- strict: the exact course lines ----------------------------------------------------------------


def check_notice(member: Member, line: str, rx: re.Pattern[str], name: str, count: int | None) -> int:
    m = rx.fullmatch(line)
    verb = "joined" if rx is JOIN_RE else "left"
    form = f"'Server: time=HH:MM:SS {name} has {verb}. Member count=N'"
    if not m or m[4] != name:
        raise CaseFailed(f"{member.conn.label}: expected {form}, got {line!r}")
    hms = (int(m[1]), int(m[2]), int(m[3]))
    if not judge.time_is_now(hms, member.room.cfg.now(), member.room.cfg.zones):
        raise CaseFailed(f"{member.conn.label}: the time in {line!r} is not now")
    got = int(m[5])
    if count is not None and got != count:
        raise CaseFailed(f"{member.conn.label}: expected Member count={count}, got {line!r}")
    return got


def join_strict(room: Room, stem: str, label: str, member: Member | None = None) -> Member:
    new = member or room.member(stem, label)
    new.say(new.name)
    new.count = check_notice(new, new.conn.line(f"the join notice for {new.name}"), JOIN_RE, new.name, None)
    for old in room.members:
        if old is new:
            continue
        line = old.next(f"the join notice for {new.name}")
        old.count = check_notice(old, line, JOIN_RE, new.name, (old.count or 0) + 1)
        if old.count != new.count:
            raise CaseFailed(f"{new.conn.label}: own join notice says count {new.count}, {old.conn.label} got {line!r}")
    return new


def relay_strict(receiver: Member, sender: Member, text: str) -> None:
    want = f"{sender.name}: {text}"
    got = receiver.next(repr(want))
    if got != want:
        raise CaseFailed(f"{receiver.conn.label}: {sender.conn.label} sent {text!r}, expected {want!r}, got {got!r}")


def leave_strict(member: Member, gone: Member) -> None:
    line = member.next(f"the leave notice for {gone.name}")
    member.count = check_notice(member, line, LEAVE_RE, gone.name, (member.count or 0) - 1)


@case("chat.exact-lines", "strict", "joins, messages and leaves read exactly as in the course's example")
def exact_lines(s: Session, cfg: Config) -> None:
    room = Room(s, cfg)
    a, b, c = trio(room, join_strict)
    # Only members that have not sent anything are read from, so this case judges formats only
    # (a line echoed to its sender is chat.no-self-echo's fault).
    say_to(a, [b, c], "Anyone here?", relay_strict)
    b.say("Crucio!")
    relay_strict(c, b, "Crucio!")
    b.say("quit")
    leave_strict(c, b)


@case("chat.login-rules", "strict", "bad or taken names get ERROR and the client may retry on the same connection")
def login_rules(s: Session, cfg: Config) -> None:
    room = Room(s, cfg)
    a = join_strict(room, "Batman", "A")
    d = room.member("Robin", "D")
    for bad in [a.name, a.name.upper(), *BAD_NAMES]:
        d.say(bad)
        expect_error(d.next(f"{error_wanted()} refusing the name {bad!r}"), f"the name {bad!r}", d.conn.label)
    join_strict(room, "Robin", "D", member=d)


@case("chat.leave-on-disconnect", "strict", "a member who closes or resets the connection leaves with a notice")
def leave_on_disconnect(s: Session, cfg: Config) -> None:
    room = Room(s, cfg)
    a, b, c = trio(room, join_strict)
    b.conn.close()
    leave_strict(a, b)
    c.conn.reset()
    leave_strict(a, c)


@case("chat.idle-connection", "strict", "a connection that never logs in does not hold up the others")
def idle_connection(s: Session, cfg: Config) -> None:
    s.tcp("I")
    room = Room(s, cfg)
    a, b = join_strict(room, "Batman", "A"), join_strict(room, "Voldemort", "B")
    a.say("still here")
    relay_strict(b, a, "still here")


@case("chat.control-chars", "strict", "control characters in a line never reach another member's terminal")
def control_chars(s: Session, cfg: Config) -> None:
    room = Room(s, cfg)
    a, b = join_strict(room, "Batman", "A"), join_strict(room, "Voldemort", "B")
    a.conn.send_raw(b"bell\x07 clear\x1b[2J done\n")
    got = b.next("the line relayed without control characters")
    bad = CONTROL_RE.search(got)
    if not got.startswith(f"{a.name}: ") or "done" not in got or bad:
        why = f" (contains {bad.group()!r})" if bad else ""
        raise CaseFailed(f"B: expected '{a.name}: bell... done' without control characters, got {got!r}{why}")


@case(
    "chat.many-clients",
    "strict",
    f"{MANY_MEMBERS} members: each joins, each gets a line from the last",
    limit=MANY_LIMIT,
)
def many_clients(s: Session, cfg: Config) -> None:
    room = Room(s, cfg)
    members = []
    for i in range(MANY_MEMBERS):
        m = room.member("Guest", f"M{i}")
        m.say(m.name)
        check_notice(m, m.next(f"the join notice for {m.name}"), JOIN_RE, m.name, None)
        members.append(m)
    last = members[-1]
    last.say("hello, everyone")
    want = f"{last.name}: hello, everyone"
    for i, m in enumerate(members[:-1]):
        m.wait(lambda line, want=want: line == want, repr(want))
        joins = [line for line in m.passed if JOIN_RE.fullmatch(line)]
        if len(joins) != len(m.passed) or len(joins) != MANY_MEMBERS - 1 - i:
            raise CaseFailed(
                f"{m.conn.label}: expected the {MANY_MEMBERS - 1 - i} join notices of later members, got {m.passed!r}"
            )


@case("chat.slow-reader", "strict", "a member who stops reading does not stall the others", limit=SLOW_LIMIT)
def slow_reader(s: Session, cfg: Config) -> None:
    room = Room(s, cfg)
    a, b, slow = (
        join_strict(room, stem, label) for stem, label in (("Batman", "A"), ("Voldemort", "B"), ("Sloth", "S"))
    )
    # From here S never reads, B reads everything A sends, and A's own input is drained: only S is slow.
    payload = "x" * (SLOW_LINE_BYTES - 12)
    lines = [f"{i:010d} {payload}" for i in range(SLOW_LINES)]
    s.note(f"A sends {SLOW_LINES} lines of {SLOW_LINE_BYTES} bytes; S never reads; B must get them all", "A")
    sender = threading.Thread(target=_send_bulk, args=(a.conn, lines, s.remaining()), daemon=True)
    drain = threading.Thread(target=_drain, args=(a.conn.sock,), daemon=True)
    a.conn.recording = False
    drain.start()
    sender.start()
    b.conn.recording = False
    start = time.monotonic()
    try:
        for i, text in enumerate(lines):
            want = f"{a.name}: {text}"
            got = b.conn.next_line(STALL_S)
            # The server may drop the slow member (fine), and a member of an earlier case may
            # only now be told goodbye on a loaded machine (not this case's business). Asked only
            # of an unexpected line: B must keep reading at full speed, or it becomes slow itself.
            while got is not None and got != want and (_dropped(got, slow) or room.foreign(got)):
                got = b.conn.next_line(STALL_S)
            if got != want:
                shown = f"nothing for {STALL_S:g} s" if got is None else repr(got[:60])
                raise CaseFailed(
                    f"B: line {i} of {SLOW_LINES} from A: expected '{a.name}: {text[:20]}...', got {shown}"
                )
    finally:
        b.conn.recording = True
        with contextlib.suppress(OSError):  # wakes the sender and drain threads
            a.conn.sock.shutdown(socket.SHUT_RDWR)
        sender.join(SLOW_LIMIT)
        drain.join(SLOW_LIMIT)
    s.note(f"B got all {SLOW_LINES} lines in {time.monotonic() - start:.2f} s", "B")


def _dropped(line: str, slow: Member) -> bool:
    m = LEAVE_RE.fullmatch(line)
    return m is not None and m[4] == slow.name


def _send_bulk(conn: TcpConn, lines: list[str], timeout: float) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    conn.sock.settimeout(timeout)
    try:
        conn.sock.sendall(data)
    except OSError:
        return  # B's reads report what did not arrive


def _drain(sock: socket.socket) -> None:
    sock.settimeout(SLOW_LIMIT)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        return


def open_pair(s: Session, cfg: Config) -> Pair:
    room = Room(s, cfg)
    a, b = join_strict(room, "Batman", "A"), join_strict(room, "Voldemort", "B")
    return Pair(a.conn, b.conn, lambda text: f"{a.name}: {text}", skip=room.foreign)


CASES = {
    "chat-server": [
        join_notice,
        relay,
        leave_notice,
        unique_names,
        no_self_echo,
        exact_lines,
        login_rules,
        leave_on_disconnect,
        idle_connection,
        *framing_cases("chat", open_pair, ["Anyone here?", "split, byte by byte", "third line"]),
        many_clients,
        slow_reader,
        # Bad input last: a server that dies on it is charged for that case only.
        control_chars,
        *bad_line_cases("chat", open_pair, "after the bad line"),
    ]
}
PROBES = {"chat-server": tcp_probe}
