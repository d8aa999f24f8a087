"""Part 2's calculator across the lab: sessions from client containers, the capture, concurrency, faults."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import dpkt

from . import pcap
from .lab import Client, Lab

PORT = 12002
MALFORMED = "3.24 45"  # the course's own example of a badly formed line
SESSION = [
    ("12 + 42", "54"),
    ("4.5 / -6", "-0.75"),
    ("0.1 + 0.2", "0.3"),
    ("7 * 6", "42"),
    ("1 / 0", "ERROR division by zero"),
]


def answers(lines: list[str]) -> list[str]:
    """The server's answers in calc-client's transcript: not the greeting, not an echoed '> input'."""
    return [line for line in lines if not line.startswith(("> ", "Enter your name: ", "Hello "))]


def session_peer(lab: Lab, name: str, ip: str, timeout: float = 10) -> tuple[str, int]:
    """The client's IP:PORT as the server logged it when the session of ``name`` started."""
    match = lab.wait_log("calc-server", rf"^{re.escape(name)}@{re.escape(ip)}:(\d+) started a session$", timeout)
    return ip, int(match[1])


def start_named(lab: Lab, name: str, **env: str) -> tuple[Client, tuple[str, int]]:
    """A calc-client that has connected and named itself; nothing else sent yet."""
    client = lab.start_client("calc-client", env={"SOCKLAB_NAME": name, **env})
    return client, session_peer(lab, name, client.ip)


def test_calculator_session(lab: Lab) -> None:
    server_ip = lab.ip("calc-server")
    assert server_ip == f"{lab.prefix}.13"
    typed = ["Alice", *(expr for expr, _ in SESSION[:2]), MALFORMED, *(expr for expr, _ in SESSION[2:]), "q"]

    result = lab.run_client("calc-client", stdin="".join(f"{line}\n" for line in typed))

    assert result.returncode == 0, result
    assert answers(result.lines) == [answer for _, answer in SESSION], result.stdout
    # One warning, for the one malformed line (the transcript shows it right after "> 3.24 45").
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and re.fullmatch(r"warning: expected .*\(got 2 items\) — not sent", warnings[0]), result
    log = lab.logs("calc-server")
    who = re.search(rf"^Alice@{re.escape(result.ip)}:(\d+) started a session$", log, re.M)
    assert who, log
    client = (result.ip, int(who[1]))
    for expr, answer in SESSION:
        assert f"Alice@{result.ip}:{client[1]} sent {expr!r} -> {answer}" in log, log
    assert f"Session ended: Alice@{result.ip}:{client[1]} (quit)" in log.splitlines(), log
    assert MALFORMED not in log, "the malformed line reached the server"

    server = (server_ip, PORT)
    conn = lab.wait_packets(
        lambda packets: pcap.connection(packets, client, server),
        lambda conn: pcap.fins(conn, client) and pcap.fins(conn, server),
    )
    pcap.handshake(conn, client, server)
    sent = ["Alice", *(expr for expr, _ in SESSION), "q"]
    assert pcap.stream(conn, client) == "".join(f"{line}\n" for line in sent).encode()
    assert pcap.stream(conn, server) == "".join(f"{answer}\n" for _, answer in SESSION).encode()
    assert not any(MALFORMED.encode() in p.payload for p in conn), "the malformed line is on the wire"
    # After q the server closes first; the client answers with its own FIN.
    server_fin, client_fin = pcap.fins(conn, server)[0], pcap.fins(conn, client)[0]
    assert server_fin.ts <= client_fin.ts, pcap.dump(conn)
    assert client_fin.has(dpkt.tcp.TH_ACK) and not any(p.has(dpkt.tcp.TH_RST) for p in conn), pcap.dump(conn)


def test_five_sessions_at_once(lab: Lab) -> None:
    """Five client containers hold sessions at the same time; each gets its own answers."""
    names = [f"user{i}" for i in range(5)]
    clients = [lab.start_client("calc-client", env={"SOCKLAB_NAME": name}) for name in names]
    peers = [session_peer(lab, name, client.ip, timeout=30) for name, client in zip(names, clients, strict=True)]
    assert len({ip for ip, _ in peers}) == len(names), f"clients share addresses: {peers}"
    # All five sessions are open now; only then does anyone calculate.
    for i, client in enumerate(clients):
        client.send(f"{i} + 100", f"{i} * {i}", f"{i + 1} / 4", "q")
        client.close_stdin()
    with ThreadPoolExecutor(len(clients)) as pool:
        codes = list(pool.map(lambda c: c.wait(30), clients))
    for i, (client, code) in enumerate(zip(clients, codes, strict=True)):
        assert code == 0, client.output()
        assert answers(client.lines) == [str(i + 100), str(i * i), f"{(i + 1) / 4:g}"], client.output()
    log = lab.log_lines("calc-server")
    for name, (ip, port) in zip(names, peers, strict=True):
        assert f"Session ended: {name}@{ip}:{port} (quit)" in log


def test_killed_server_is_reported_and_restart_serves_again(lab: Lab) -> None:
    server = lab.container("calc-server")
    server_ip = lab.ip("calc-server")
    client, _ = start_named(lab, "Kim")
    client.send("2 + 2")
    client.wait_line(r"^4$")

    server.kill()  # SIGKILL: no goodbye from the program; the kernel closes its sockets
    client.send("3 + 3")
    code = client.wait(15)
    assert code != 0, client.output()
    assert "error: server closed the connection" in client.err_lines, client.output()
    assert answers(client.lines) == ["4"], client.output()  # nothing answered after the kill

    listening = sum("listening on" in line for line in lab.log_lines("calc-server"))
    server.restart(timeout=3)
    lab.wait_healthy(("calc-server",))
    lab.wait_for_value(
        lambda: sum("listening on" in line for line in lab.log_lines("calc-server")) > listening, 10, "a new listen"
    )
    assert lab.ip("calc-server") == server_ip
    result = lab.run_client("calc-client", env={"SOCKLAB_NAME": "Kim"}, stdin="5 - 7\nq\n")
    assert result.returncode == 0 and answers(result.lines) == ["-2"], result


def test_paused_server_times_out_the_client(lab: Lab) -> None:
    """A frozen server (docker pause): the client gives up after its --timeout, with a message, and exits 1.

    The kernel still completes the handshake for the frozen process (the listen
    backlog), so the client connects and it is the reply that never comes.
    """
    server = lab.container("calc-server")
    server.pause()
    try:
        started = time.monotonic()
        result = lab.run_client(
            "calc-client", env={"SOCKLAB_NAME": "Pat", "SOCKLAB_TIMEOUT": "2"}, stdin="1 + 1\nq\n", timeout=20
        )
        took = time.monotonic() - started
    finally:
        server.unpause()
    assert result.returncode == 1, result
    assert "error: no reply from the server within 2 s" in result.stderr.splitlines(), result
    assert took < 15, f"the client took {took:.1f} s to give up"
    # Unfrozen, the server takes the queued session, finds the client gone, and serves the next one.
    lab.wait_log("calc-server", rf"^Session ended: Pat@{re.escape(result.ip)}:\d+ \(")
    again = lab.run_client("calc-client", env={"SOCKLAB_NAME": "Pat"}, stdin="6 / 4\nq\n")
    assert again.returncode == 0 and answers(again.lines) == ["1.5"], again


def test_lossy_link_still_answers_every_line(lab: Lab) -> None:
    """30 % of the TCP segments reaching the client are dropped: TCP retransmits, every answer is exact."""
    lines = [(f"{i} * 3", str(i * 3)) for i in range(1, 31)]
    # Generous reply timeout: a reply lost several times in a row waits out doubling retransmission timers.
    client, peer = start_named(lab, "Lossy", SOCKLAB_TIMEOUT="30")
    container = client.container()
    lab.drop_input(container, "tcp", 0.3)  # after the handshake: connect retries are not the point
    client.send(*(expr for expr, _ in lines))
    client.wait_line(rf"^{lines[-1][1]}$", timeout=90)
    # The loss was real: 30 replies came in, P(none dropped) = 0.7**30, about 2e-5.
    assert lab.dropped(container) > 0, "iptables dropped nothing"
    client.send("q")
    client.close_stdin()
    assert client.wait(60) == 0, client.output()
    assert answers(client.lines) == [answer for _, answer in lines], client.output()
    log = lab.logs("calc-server")
    assert f"Session ended: Lossy@{peer[0]}:{peer[1]} (quit)" in log.splitlines(), log
    conn = lab.wait_packets(
        lambda packets: pcap.connection(packets, peer, (lab.ip("calc-server"), PORT)),
        lambda conn: pcap.fins(conn, peer),
    )
    # Retransmitted or not, each byte went out once in the stream: exactly the answers, in order.
    server = (lab.ip("calc-server"), PORT)
    assert pcap.stream(conn, server) == "".join(f"{answer}\n" for _, answer in lines).encode()
