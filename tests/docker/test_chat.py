"""Part 3's chat room across the lab: members in their own client containers, joins, messages, leaves, a cut cable.

Two kinds of member: a raw line relay (tests/docker/relay.py, in a chat-client container)
to check the exact protocol lines, and the real chat-client program.
"""

from __future__ import annotations

import re
import time

import pytest

from .lab import RELAY_CONNECTED_RE, Lab

PORT = 12003
CLOCK = r"\d\d:\d\d:\d\d"
#: DEAD_PEER_SECONDS (30, services/netopts.py) plus slack for the retransmission that meets the deadline.
LEAVE_BOUND = 45


def joined(name: str, count: int) -> str:
    return rf"^Server: time={CLOCK} {re.escape(name)} has joined\. Member count={count}$"


def left(name: str, count: int) -> str:
    return rf"^Server: time={CLOCK} {re.escape(name)} has left\. Member count={count}$"


class Member:
    """A relay member: ``say`` a line, ``hear`` the next line(s) exactly, in order."""

    def __init__(self, lab: Lab, name: str) -> None:
        self.lab, self.name = lab, name
        self.client = lab.relay("chat-client", "chat-server", PORT)
        self.seen = 1  # past the relay's "connected" line
        m = re.match(RELAY_CONNECTED_RE, self.client.lines[0])
        assert m, self.client.output()
        self.peer = (m["ip"], int(m["port"]))
        assert self.peer[0] == self.client.ip, (self.peer, self.client.ip)

    @property
    def ip(self) -> str:
        return self.client.ip

    def say(self, line: str) -> None:
        self.client.send(line)

    def hear(self, pattern: str, timeout: float = 10) -> str:
        """The next unread line must match ``pattern`` (a regex, or an exact line if it has no ^)."""
        regex = pattern if pattern.startswith("^") else rf"^{re.escape(pattern)}$"
        line = self.client.line(self.seen, timeout)
        assert re.fullmatch(regex.removeprefix("^").removesuffix("$"), line), (
            f"{self.name}: expected /{regex}/, got {line!r}; all: {self.client.lines}"
        )
        self.seen += 1
        return line

    def hears_nothing_more(self) -> None:
        assert self.client.lines[self.seen :] == [], (
            f"{self.name} got unexpected lines: {self.client.lines[self.seen :]}"
        )

    def join(self, *others: Member) -> None:
        """Log in; every member, this one included, gets the join notice with the new count."""
        self.say(self.name)
        count = len(others) + 1
        self.hear(joined(self.name, count))
        for other in others:
            other.hear(joined(self.name, count))


def server_saw(lab: Lab, ip: str, name: str, members: int) -> tuple[str, int]:
    """The member's IP:PORT as the chat server logged its join."""
    pattern = rf"^{re.escape(ip)}:(\d+) joined as {re.escape(name)} \(members={members}\)$"
    return ip, int(lab.wait_log("chat-server", pattern)[1])


def test_three_members_chat(lab: Lab) -> None:
    assert lab.ip("chat-server") == f"{lab.prefix}.14"
    batman = Member(lab, "Batman")
    batman.join()
    robin = Member(lab, "Robin")
    robin.say("batman")  # names are unique ignoring case
    robin.hear("ERROR name 'batman' is already taken")
    robin.join(batman)  # a refused login may retry on the same connection

    # The third member is the real chat-client program, prompting for its name.
    alfred = lab.start_client("chat-client")
    alfred_ip = alfred.ip
    alfred.wait_line(r"^Enter login name:$")
    alfred.send("Alfred")
    alfred.wait_line(joined("Alfred", 3))
    for member in (batman, robin):
        member.hear(joined("Alfred", 3))

    batman.say("Anyone here?")
    robin.hear("Batman: Anyone here?")
    alfred.wait_line(r"^Batman: Anyone here\?$")
    alfred.send("At your service.")
    batman.hear("Alfred: At your service.")
    robin.hear("Alfred: At your service.")

    robin.say("quit")
    robin.client.wait_line(r"^#relay closed$")
    batman.hear(left("Robin", 2))
    alfred.wait_line(left("Robin", 2))

    alfred.close_stdin()  # end of input: the client leaves the room and exits 0
    assert alfred.wait(15) == 0, alfred.output()
    batman.hear(left("Alfred", 1))
    batman.hears_nothing_more()  # never an echo of its own message

    # The server saw each member at the member's own container address.
    ips = {batman.ip, robin.ip, alfred_ip}
    assert len(ips) == 3 and all(ip.startswith(lab.prefix + ".") for ip in ips), ips
    assert server_saw(lab, batman.ip, "Batman", 1) == batman.peer
    assert server_saw(lab, robin.ip, "Robin", 2) == robin.peer
    server_saw(lab, alfred_ip, "Alfred", 3)
    batman.say("quit")
    batman.client.wait_line(r"^#relay closed$")


@pytest.mark.slow  # waits out TCP_USER_TIMEOUT (30 s)
def test_member_cut_off_from_the_network(lab: Lab) -> None:
    """``docker network disconnect`` a member: the others chat on; the server notices within DEAD_PEER_SECONDS.

    The cut member sends no FIN or RST, it just vanishes. Which timer fires: as soon
    as someone speaks, the server has a copy of that message for the cut member in
    flight, unacknowledged; keepalive only probes idle connections, so it is
    TCP_USER_TIMEOUT (30 s of unacknowledged data) that ends the connection, and
    the server announces the leave. (Had the room stayed silent, keepalive would:
    10 s idle + 3 probes x 5 s = 25 s.)
    """
    members = [Member(lab, name) for name in ("Lois", "Clark", "Jimmy")]
    lois, clark, jimmy = members
    for i, member in enumerate(members):
        member.join(*members[:i])
    assert server_saw(lab, jimmy.ip, "Jimmy", 3) == jimmy.peer

    lab.network().disconnect(jimmy.client.container(), force=True)
    cut = time.monotonic()
    lois.say("Jimmy, are you there?")  # the server's copy to Jimmy is never acknowledged
    clark.hear("Lois: Jimmy, are you there?")
    for turn in range(3):  # the others keep chatting, promptly, while Jimmy's connection dies
        clark.say(f"still here {turn}")
        lois.hear(f"Clark: still here {turn}", timeout=5)

    lois.hear(left("Jimmy", 2), timeout=LEAVE_BOUND)
    took = time.monotonic() - cut
    clark.hear(left("Jimmy", 2), timeout=5)
    assert took <= LEAVE_BOUND, f"leave announced after {took:.0f} s"
    assert took >= 10, f"leave announced after {took:.1f} s: too soon for a timeout, so what closed it?"
    lab.wait_log("chat-server", rf"^{jimmy.ip}:{jimmy.peer[1]} Jimmy left: connection lost: .*timed out", 5)

    lois.say("bye")
    clark.hear("Lois: bye")
    for member in (lois, clark):
        member.say("quit")
        member.client.wait_line(r"^#relay closed$")
    lab.remove_client(jimmy.client)
