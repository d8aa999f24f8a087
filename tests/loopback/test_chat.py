"""chat-server and chat-client as real processes on 127.0.0.1, spoken to with raw sockets."""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.helpers import LineClient, Program, wait_for

TIME = r"\d{2}:\d{2}:\d{2}"


def joined(name: str, count: int) -> re.Pattern[str]:
    return re.compile(rf"Server: time={TIME} {re.escape(name)} has joined\. Member count={count}")


def left(name: str, count: int) -> re.Pattern[str]:
    return re.compile(rf"Server: time={TIME} {re.escape(name)} has left\. Member count={count}")


SHUTDOWN = re.compile(rf"Server: time={TIME} server is shutting down\.")


def start_server(*args: str) -> Program:
    server = Program("chat-server", "--host", "127.0.0.1", "--port", "0", *args)
    server.port = server.listening_port()  # type: ignore[attr-defined]
    return server


@pytest.fixture
def server() -> Iterator[Program]:
    with start_server() as srv:
        yield srv


@pytest.fixture
def clients() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def join(clients: ExitStack, server: Program, name: str, count: int, **kw: object) -> LineClient:
    """A raw client that logs in as ``name`` and sees its own join notice with ``count``."""
    client = clients.enter_context(LineClient(server.port, **kw))  # type: ignore[attr-defined, arg-type]
    client.send(name)
    client.expect(joined(name, count))
    return client


def room(clients: ExitStack, server: Program, *names: str) -> list[LineClient]:
    """Members joined in order; each has read every join notice up to the last."""
    members: list[LineClient] = []
    for count, name in enumerate(names, start=1):
        members.append(join(clients, server, name, count))
        for earlier in members[:-1]:
            earlier.expect(joined(name, count))
    return members


def test_three_members_join_with_counts(server: Program, clients: ExitStack) -> None:
    batman = join(clients, server, "Batman", 1)
    robin = join(clients, server, "Robin", 2)
    batman.expect(joined("Robin", 2))
    alfred = join(clients, server, "Alfred", 3)
    batman.expect(joined("Alfred", 3))
    robin.expect(joined("Alfred", 3))
    assert "Batman" in server.wait_line(r"127\.0\.0\.1:\d+ joined as Batman").group(0)
    alfred.send("Anyone here?")
    batman.expect("Alfred: Anyone here?")
    robin.expect("Alfred: Anyone here?")


def test_messages_reach_the_others_not_the_sender(server: Program, clients: ExitStack) -> None:
    a, b, c = room(clients, server, "Batman", "Robin", "Alfred")
    a.send("Anyone here?")
    b.expect("Batman: Anyone here?")
    c.expect("Batman: Anyone here?")
    b.send("Crucio!")
    a.expect("Robin: Crucio!")  # not its own line first: the sender never gets its echo
    c.expect("Robin: Crucio!")
    c.send("héllo ✓")
    a.expect("Alfred: héllo ✓")
    b.expect("Alfred: héllo ✓")


def test_refused_name_then_another_on_same_connection(server: Program, clients: ExitStack) -> None:
    (batman,) = room(clients, server, "Batman")
    other = clients.enter_context(LineClient(server.port))  # type: ignore[attr-defined]
    for attempt, reply in [
        ("batman", "ERROR name 'batman' is already taken"),
        ("Server", "ERROR name 'Server' is reserved"),
        ("bat man", "ERROR name must be 1-32 letters, digits, '_', '-' or '.'"),
        ("x" * 33, "ERROR name must be 1-32 letters, digits, '_', '-' or '.'"),
    ]:
        other.send(attempt)
        other.expect(reply)
    other.send("Robin")
    other.expect(joined("Robin", 2))
    batman.expect(joined("Robin", 2))


def quit_line(client: LineClient) -> None:
    client.send("  quit ")


def end_of_stream(client: LineClient) -> None:
    client.sock.shutdown(socket.SHUT_WR)


def reset(client: LineClient) -> None:
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.sock.close()


@pytest.mark.parametrize("leave", [quit_line, end_of_stream, reset], ids=["quit", "eof", "reset"])
def test_leaving_tells_the_others(server: Program, clients: ExitStack, leave: object) -> None:
    a, b, c = room(clients, server, "Batman", "Robin", "Alfred")
    leave(b)  # type: ignore[operator]
    a.expect(left("Robin", 2))
    c.expect(left("Robin", 2))
    if leave is not reset:
        b.expect_closed()  # the leaver gets no notice of its own, just the close
    a.send("still here")
    c.expect("Batman: still here")


def test_name_is_free_again_after_leaving(server: Program, clients: ExitStack) -> None:
    a, b = room(clients, server, "Batman", "Robin")
    quit_line(b)
    a.expect(left("Robin", 1))
    join(clients, server, "ROBIN", 2)
    a.expect(joined("ROBIN", 2))


def test_overlong_line_gets_error_and_member_stays(server: Program, clients: ExitStack) -> None:
    a, b = room(clients, server, "Batman", "Robin")
    a.send_raw(b"x" * (1 << 20) + b"\n")
    a.expect("ERROR line of 1048576 bytes exceeds 1024")
    a.send_raw(b"\xff\xfeoops\n")
    a.expect("ERROR invalid UTF-8 at byte 0")
    a.send("after the errors")
    b.expect("Batman: after the errors")  # b never saw the bad lines


def test_overlong_name_line_gets_error_and_login_goes_on(server: Program, clients: ExitStack) -> None:
    client = clients.enter_context(LineClient(server.port))  # type: ignore[attr-defined]
    client.send("y" * 5000)
    client.expect("ERROR line of 5000 bytes exceeds 1024")
    client.send("Batman")
    client.expect(joined("Batman", 1))


def test_lines_split_byte_by_byte_and_coalesced(server: Program, clients: ExitStack) -> None:
    a, b = room(clients, server, "Batman", "Robin")
    a.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for byte in "split ✓\r\n".encode():
        a.send_raw(bytes([byte]))
    b.expect("Batman: split ✓")
    a.send_raw(b"one\ntwo\r\n\nthree\n")  # the empty line is not relayed
    for line in ("one", "two", "three"):
        b.expect(f"Batman: {line}")
    b.send("and back")
    a.expect("Robin: and back")


def test_login_and_message_in_one_segment(server: Program, clients: ExitStack) -> None:
    (a,) = room(clients, server, "Batman")
    b = clients.enter_context(LineClient(server.port))  # type: ignore[attr-defined]
    b.send_raw(b"Robin\nhello\nquit\nnot a login\n")
    b.expect(joined("Robin", 2))
    b.expect_closed()
    a.expect(joined("Robin", 2))
    a.expect("Robin: hello")
    a.expect(left("Robin", 1))


def test_control_characters_never_reach_other_terminals(server: Program, clients: ExitStack) -> None:
    a, b = room(clients, server, "Batman", "Robin")
    a.send_raw(b"\x1b[2J\x07red\x7f\xc2\x9b\n")
    b.expect("Batman: \ufffd[2J\ufffdred\ufffd\ufffd")


def test_silent_connection_does_not_block_logins(server: Program, clients: ExitStack) -> None:
    silent = clients.enter_context(LineClient(server.port))  # type: ignore[attr-defined]
    silent.send_raw(b"Half a na")  # and never the rest
    a, b = room(clients, server, "Batman", "Robin")
    a.send("hello")
    b.expect("Batman: hello")


def test_login_timeout_closes_silent_connection() -> None:
    with start_server("--login-timeout", "0.3") as server, LineClient(server.port) as silent:  # type: ignore[attr-defined]
        silent.expect("ERROR no login name accepted within 0.3 s")
        silent.expect_closed()
        server.wait_line(r"127\.0\.0\.1:\d+ disconnected: login timeout")


def test_room_full() -> None:
    with start_server("--max-members", "2") as server, ExitStack() as clients:
        room(clients, server, "a", "b")
        third = clients.enter_context(LineClient(server.port))  # type: ignore[attr-defined]
        third.send("c")
        third.expect("ERROR room is full (2 members)")


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1])  # type: ignore[index]


MAX_PENDING = 64 * 1024
LINE = "m" * 1000
BATCH = 64
#: Upper bound on what the test sends: far more than the slow member's kernel buffers hold.
MAX_LINES_SENT = 40_000


def test_slow_consumer_dropped_others_unaffected(clients: ExitStack) -> None:
    server = clients.enter_context(start_server("--max-pending", str(MAX_PENDING)))
    sender, reader = room(clients, server, "Sender", "Reader")
    slow = clients.enter_context(LineClient(server.port))  # type: ignore[attr-defined]
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.send("Slow")
    slow.expect(joined("Slow", 3))
    sender.expect(joined("Slow", 3))
    reader.expect(joined("Slow", 3))
    rss_before = rss_kib(server.proc.pid)
    dropped = False
    sent = 0
    while not dropped and sent < MAX_LINES_SENT:
        sender.send_raw(f"{LINE}\n".encode() * BATCH)
        sent += BATCH
        for _ in range(BATCH):  # the reader gets every line, in order, dropped or not
            line = reader.read_line()
            if left("Slow", 2).fullmatch(line):
                dropped = True
                line = reader.read_line()
            assert line == f"Sender: {LINE}"
    assert dropped, f"slow member still in the room after {sent} lines"
    sender.expect(left("Slow", 2))
    server.wait_line(r"Slow left: slow consumer: \d+ bytes unsent exceed 65536")
    growth = rss_kib(server.proc.pid) - rss_before
    assert growth < 32 * 1024, f"server grew by {growth} KiB"
    assert cut_off(slow), "the slow member's connection was not closed"


def cut_off(client: LineClient) -> bool:
    """Read whatever is left until the connection ends (reset or EOF); False on timeout."""
    try:
        while client.sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_sigterm_tells_every_member_and_exits_0(clients: ExitStack) -> None:
    server = start_server()
    members = room(clients, server, "Batman", "Robin", "Alfred")
    lurker = clients.enter_context(LineClient(server.port))  # type: ignore[attr-defined]
    server.proc.terminate()
    for member in members:
        member.expect(SHUTDOWN)
        member.expect_closed()
    lurker.expect_closed()  # not logged in: no notice, just the close
    assert server.wait() == 0
    server.stop()


# -- chat-client ------------------------------------------------------------------------


def start_client(server: Program, *args: str) -> Program:
    return Program("chat-client", "--host", "127.0.0.1", "--port", str(server.port), *args, stdin=True)  # type: ignore[attr-defined]


def test_client_joins_sends_receives_quits(server: Program, clients: ExitStack) -> None:
    (robin,) = room(clients, server, "Robin")
    with start_client(server) as client:
        client.wait_line(r"^Enter login name:$")
        client.write("robin\n")
        client.wait_line(r"^ERROR name 'robin' is already taken$")
        wait_for(lambda: client.lines.count("Enter login name:") == 2, what="a second prompt")
        client.write("Batman\n")
        robin.expect(joined("Batman", 2))
        client.wait_line(rf"^Server: time={TIME} Batman has joined\. Member count=2$")
        robin.send("Anyone here?")
        client.wait_line(r"^Robin: Anyone here\?$")
        client.write("Crucio!\n")
        robin.expect("Batman: Crucio!")
        client.write("quit\n")
        robin.expect(left("Batman", 1))
        assert client.wait() == 0
    assert not any("Batman: Crucio!" in line for line in client.lines)  # no echo of its own line


def test_client_end_of_input_leaves(server: Program, clients: ExitStack) -> None:
    (robin,) = room(clients, server, "Robin")
    with start_client(server, "--name", "Batman") as client:
        robin.expect(joined("Batman", 2))
        client.write("last words\n")
        client.close_stdin()
        robin.expect("Batman: last words")
        robin.expect(left("Batman", 1))
        assert client.wait() == 0


def test_client_reports_server_gone(clients: ExitStack) -> None:
    server = start_server()
    with start_client(server, "--name", "Batman") as client:
        client.wait_line(r"has joined\. Member count=1$")
        assert server.stop() == 0
        client.wait_line(rf"^Server: time={TIME} server is shutting down\.$")
        assert client.wait() == 1
        client.wait_line(r"^error: the server closed the connection$")


def test_client_cannot_connect() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        client = Program("chat-client", "--host", "127.0.0.1", "--port", str(port), "--name", "x")
        assert client.wait() == 1
        client.stop()
    assert re.search(r"^error: cannot connect to 127\.0\.0\.1:\d+: ", client.output(), re.M)
