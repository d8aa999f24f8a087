"""How the load generator speaks to each chat server: socklab's chat protocol, or IRC for ngircd.

Both are line protocols with the same shape (log in, hear join notices, send a
line that every *other* member receives), so one generator drives both; only the
bytes differ. Every benchmark message carries ``|<id> <send time in µs>`` and
nothing else on the wire in a measured window contains ``|``, so a member that is
only counting deliveries counts ``|`` bytes in its receive buffer (C speed)
instead of parsing lines.
"""

from __future__ import annotations

from dataclasses import dataclass

MARK = b"|"
IRC_CHANNEL = "#bench"


@dataclass(frozen=True)
class Dialect:
    name: str
    #: Bytes a member sends to log in (and, for IRC, join the channel).
    login_fmt: str
    #: What precedes a message's text on the wire, and what ends a line.
    say_prefix: bytes
    eol: bytes
    #: One occurrence per join notice a member receives (its own and later ones).
    join_marker: bytes
    #: In a line telling the others a member left (or was dropped).
    leave_marker: bytes
    #: A login that was refused.
    refusal_marker: bytes
    quit: bytes

    def login(self, name: str) -> bytes:
        return self.login_fmt.format(name=name).encode()

    def message(self, gid: int, t_us: int) -> bytes:
        return b"%s|%d %d%s" % (self.say_prefix, gid, t_us, self.eol)


CHAT = Dialect(
    name="socklab-chat",
    login_fmt="{name}\n",
    say_prefix=b"",
    eol=b"\n",
    join_marker=b" has joined.",
    leave_marker=b" has left.",
    refusal_marker=b"ERROR",
    quit=b"quit\n",
)

IRC = Dialect(
    name="irc",
    login_fmt="NICK {name}\r\nUSER {name} 0 * :{name}\r\nJOIN " + IRC_CHANNEL + "\r\n",
    say_prefix=b"PRIVMSG " + IRC_CHANNEL.encode() + b" :",
    eol=b"\r\n",
    join_marker=b" JOIN :" + IRC_CHANNEL.encode(),
    leave_marker=b" QUIT ",
    refusal_marker=b"ERROR :",
    quit=b"QUIT\r\n",
)
