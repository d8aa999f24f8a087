"""The lab's catalogue: every role, its program, protocol, port and address, in one place.

Everything else derives from this table or is tested against it: the entry
point (``python3 -m services NAME``), the checker's role list, the lab tools'
host lists, the pcap report's and the dissector's port tables, and the fixed
addresses in compose.yaml (checked by ``tests/unit/test_roles.py``).

Adding a role means one ``Role`` here plus its protocol, its program and its
checker cases (see docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The lab network's default /24 prefix (compose.yaml: ``SOCKLAB_NET_PREFIX``).
NET_PREFIX = "172.28.0"
#: Where ``docker compose run`` clients get their addresses (compose.yaml's ip_range).
DYNAMIC_RANGE = "upper half of the subnet: .128 - .254"
#: The Swarm lab's overlay subnet (``scripts/lab up --swarm``; ``SOCKLAB_SWARM_SUBNET``). Swarm gives
#: tasks their addresses itself (no fixed ones), so only the subnet is the lab's choice: in the local
#: lab's 172.28/16 but apart from its 172.28.N.0/24 labs, away from the 10.0.0.0/8 networks that
#: campus LANs (the underlay) often use.
SWARM_SUBNET = "172.28.100.0/24"


@dataclass(frozen=True)
class Role:
    """One host of the lab: a server, or a client of one."""

    #: Role name = compose service = program name (``python3 -m services NAME``).
    name: str
    #: Lab protocol spoken (pcap report, dissector, watch page): echo, datetime, calc, chat.
    protocol: str
    transport: str  # "udp" | "tcp"
    #: The server's port (for a client: the port of the server it talks to).
    port: int
    #: ``"module:function"`` that runs the program.
    entry: str
    summary: str
    #: Last octet of the fixed lab address, or None for clients started by ``compose run``.
    octet: int | None = None
    #: For a client: the server role it talks to.
    server: str | None = None
    #: Module with the checker's cases for this role (None: the checker does not judge it).
    cases: str | None = None
    #: One line for people: what to do with an interactive client.
    hint: str = ""

    @property
    def is_client(self) -> bool:
        return self.server is not None

    @property
    def is_server(self) -> bool:
        return self.server is None

    def address(self, prefix: str = NET_PREFIX) -> str | None:
        """The fixed lab address under ``prefix`` (None for a dynamic client)."""
        return None if self.octet is None else f"{prefix}.{self.octet}"


ROLES: tuple[Role, ...] = (
    Role(
        "udp-echo-server",
        "echo",
        "udp",
        12000,
        "services.echo.server:udp_main",
        "UDP echo server: replies with the datagram upper-cased",
        octet=10,
        cases="services.check.cases_echo",
    ),
    Role(
        "tcp-echo-server",
        "echo",
        "tcp",
        12000,
        "services.echo.server:tcp_main",
        "TCP echo server: replies with each line upper-cased",
        octet=11,
        cases="services.check.cases_echo",
    ),
    Role(
        "datetime-server",
        "datetime",
        "udp",
        12001,
        "services.datetime.server:main",
        "UDP date/time server: SEND_DATE / SEND_TIME",
        octet=12,
        cases="services.check.cases_datetime",
    ),
    Role(
        "calc-server",
        "calc",
        "tcp",
        12002,
        "services.calc.server:main",
        "TCP calculator server: named sessions, many clients at once",
        octet=13,
        cases="services.check.cases_calc",
    ),
    Role(
        "chat-server",
        "chat",
        "tcp",
        12003,
        "services.chat.server:main",
        "TCP chat room server: logins, joins/leaves, broadcasts",
        octet=14,
        cases="services.check.cases_chat",
    ),
    Role(
        "datetime-client",
        "datetime",
        "udp",
        12001,
        "services.datetime.client:main",
        "UDP date/time client: requests every 1-2 s, prints replies",
        octet=20,
        server="datetime-server",
        cases="services.check.cases_clients",
    ),
    Role(
        "udp-echo-client",
        "echo",
        "udp",
        12000,
        "services.echo.client:udp_main",
        "UDP echo client: sends lines, prints the replies",
        server="udp-echo-server",
        hint="type a line; the reply is upper-cased (UDP)",
    ),
    Role(
        "tcp-echo-client",
        "echo",
        "tcp",
        12000,
        "services.echo.client:tcp_main",
        "TCP echo client: sends lines, prints the replies",
        server="tcp-echo-server",
        hint="the same over TCP",
    ),
    Role(
        "calc-client",
        "calc",
        "tcp",
        12002,
        "services.calc.client:main",
        "TCP calculator client: checks input, prints answers, q quits",
        server="calc-server",
        cases="services.check.cases_clients",
        hint="give a name, then e.g. 12 + 42; q quits",
    ),
    Role(
        "chat-client",
        "chat",
        "tcp",
        12003,
        "services.chat.client:main",
        "TCP chat room client: a chat window in the terminal",
        server="chat-server",
        hint="log in, then chat; start two or more",
    ),
)

BY_NAME: dict[str, Role] = {role.name: role for role in ROLES}
SERVERS: tuple[Role, ...] = tuple(r for r in ROLES if r.is_server)
CLIENTS: tuple[Role, ...] = tuple(r for r in ROLES if r.is_client)
#: Clients a person drives from a terminal (``docker compose run --rm NAME``).
INTERACTIVE_CLIENTS: tuple[Role, ...] = tuple(r for r in CLIENTS if r.octet is None)
#: Roles the checker can judge, in catalogue order.
CHECKED: tuple[Role, ...] = tuple(r for r in ROLES if r.cases is not None)
#: (transport, port) -> protocol, for decoders (pcap report, dissector, watch page).
PROTOCOL_PORTS: dict[tuple[str, int], str] = {(r.transport, r.port): r.protocol for r in SERVERS}


def get(name: str) -> Role:
    """The role called ``name``; a ValueError listing the roles otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown role {name!r}; roles: {', '.join(BY_NAME)}") from None


def client_of(server: str) -> Role:
    """The lab's (first) client that talks to ``server``."""
    return next(r for r in CLIENTS if r.server == server)


def server_port(name: str) -> int:
    """The port a role listens on (a server) or talks to (a client)."""
    return get(name).port
