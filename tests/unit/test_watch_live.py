"""scripts/lab watch without a browser: a growing capture becomes page events; a new capture after
down/up is followed; the JSON the page gets; Docker's container list read as lab hosts."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "tests" / "fixtures" / "pcaps"
sys.path.insert(0, str(ROOT / "scripts"))
from lablib.watch import lab as watch_lab  # noqa: E402
from lablib.watch import live, server  # noqa: E402

SPLIT = PCAPS / "calc_split_line.pcap"


def events(queue: asyncio.Queue) -> list[tuple[str, dict]]:
    out = []
    while not queue.empty():
        name, data = queue.get_nowait().decode().split("\n")[:2]
        out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def test_capture_bytes_in_any_pieces_give_every_arrow_once() -> None:
    capture = live.LiveCapture("x.pcap")
    data = SPLIT.read_bytes()
    arrows, lines = [], []
    for at in range(0, len(data), 50):
        batch = capture.consume(data[at : at + 50])
        arrows += batch.arrows
        lines += batch.lines
    assert [a["frame"] for a in arrows] == list(range(1, 20))
    assert [a["style"] for a in arrows[:3]] == ["handshake"] * 3 and arrows[0]["label"] == "SYN"
    notes = ["Calc name: Alice", "Calc request: 12 + 42", "Calc result: 54", "Calc quit"]
    assert [line["note"] for line in lines] == notes
    assert arrows[9]["notes"] == ["Calc request: 12 + 42"]  # the segment that completed the line
    state = capture.state()
    assert (state["total"], len(state["conversations"]), state["conversations"][0]["closed"]) == (19, 1, True)


def test_a_capture_that_is_not_pcap_is_reported_not_raised() -> None:
    capture = live.LiveCapture("junk.pcap")
    assert not capture.consume(b"this is not a capture file at all\n")
    assert "not a pcap stream" in (capture.state()["error"] or "")


def test_detail_and_pcap_of_one_conversation() -> None:
    capture = live.LiveCapture("x.pcap")
    capture.consume((PCAPS / "ipv6_echo.pcap").read_bytes())
    detail = live.detail_json(capture.conversation(2))
    assert detail["title"].startswith("TCP [fd00::2]") and detail["lines"][0]["text"] == '"over six"'
    assert capture.conversation_pcap(2).startswith(SPLIT.read_bytes()[:4])
    assert capture.conversation(3) is None and capture.conversation_pcap(3) is None


class FakeLab:
    error = None


def test_follows_the_new_capture_after_down_and_up(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[str, dict]]:
        watch = server.Watch(FakeLab(), project="p")  # type: ignore[arg-type]
        page: asyncio.Queue = asyncio.Queue(maxsize=server.CLIENT_QUEUE)
        watch.pages.add(page)
        watch.saw_lab([], None)  # before `up`: nothing to follow
        watch.read()
        first, second = tmp_path / "lab-1.pcap", tmp_path / "lab-2.pcap"
        watch.saw_lab([], first)  # up: the capture is named before tcpdump creates it
        watch.read()
        data = SPLIT.read_bytes()
        first.write_bytes(data[:300])
        watch.read()
        with first.open("ab") as f:  # tcpdump writes on
            f.write(data[300:])
        watch.read()
        watch.saw_lab([], None)  # down: the last capture stays on the page
        watch.read()
        second.write_bytes((PCAPS / "datetime_sll.pcap").read_bytes())
        watch.saw_lab([], second)  # up again
        watch.read()
        return events(page)

    got = asyncio.run(scenario())
    assert [name for name, _ in got] == ["state", "batch", "batch", "state", "batch"]
    assert got[0][1]["capture"] == "lab-1.pcap" and got[3][1]["capture"] == "lab-2.pcap"
    assert got[2][1]["total"] == 19 and got[4][1]["conversations"][0]["service"] == "datetime"


def test_a_page_that_falls_behind_gets_a_fresh_state() -> None:
    async def scenario() -> list[tuple[str, dict]]:
        watch = server.Watch(None, project="p")
        page: asyncio.Queue = asyncio.Queue(maxsize=3)
        watch.pages.add(page)
        for _ in range(5):
            watch.broadcast("batch", {"n": 1})
        return events(page)

    got = asyncio.run(scenario())
    assert [name for name, _ in got] == ["state", "batch"]


def test_docker_container_list_entries_become_hosts() -> None:
    def entry(service: str, name: str, ip: str, oneoff: bool = False) -> dict:
        labels = {"com.docker.compose.service": service, "com.docker.compose.oneoff": str(oneoff)}
        networks = {"p_lab": {"IPAddress": ip}} if ip else {}
        return {
            "Id": name,
            "Names": [f"/{name}"],
            "Labels": labels,
            "State": "running",
            "Status": "Up 3 seconds (healthy)",
            "NetworkSettings": {"Networks": networks},
        }

    hosts = [
        watch_lab.host_of(entry("chat-server", "p-chat-server-1", "172.30.2.14"), "p"),
        watch_lab.host_of(entry("chat-client", "p-chat-client-run-1f2e", "172.30.2.130", oneoff=True), "p"),
        watch_lab.host_of(entry("capture", "p-capture-1", ""), "p"),
    ]
    assert [(h.name, h.kind, h.protocol, h.ip) for h in hosts] == [
        ("chat-server", "server", "chat", "172.30.2.14"),
        ("chat-client-run-1f2e", "client", "chat", "172.30.2.130"),
        ("capture", "capture", "tcpdump", ""),
    ]


def test_watch_refuses_bad_arguments_clearly(capsys, tmp_path: Path) -> None:
    from lablib import watch

    assert watch.main(["--port", "0"]) == 2
    assert "is not a TCP port" in capsys.readouterr().err
    assert watch.main(["--capture", str(tmp_path / "nope.pcap"), "--no-docker"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_watch_says_when_its_port_is_taken(capsys) -> None:
    import socket

    from lablib import watch

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert watch.main(["--port", str(port), "--capture", str(SPLIT), "--no-docker"]) == 1
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err
