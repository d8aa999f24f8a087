"""scripts/lab watch in headless Chromium, against a real lab (its own project, subnet and bridge).

Two chat clients log in and talk, a calculator session runs, the date/time client asks:
within PAGE_DEADLINE of the programs seeing it, the page shows the hosts, the
connection, the ladder (SYN, SYN-ACK, ACK, the lines with what they mean) and the
Follow Stream text. The page's screenshots are docs/evidence/watch-*.png: set
SOCKLAB_UPDATE_EVIDENCE=1 to rewrite them (otherwise they go to pytest's tmp dir).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker.lab import Lab, in_ci
from tests.helpers import ROOT, wait_for

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import common, pcap  # noqa: E402

#: Issue 15: the page shows what happened within 2 s of it happening.
PAGE_DEADLINE = 2.0
WATCH_START = 30.0  # s for `scripts/lab watch` to serve its page (imports, first look at Docker)
STOP_TIMEOUT = 10.0
EVIDENCE = ROOT / "docs" / "evidence"
CHAT_PORT, CALC_PORT = 12003, 12002

#: What the page shows, read from its DOM.
SHOWN_JS = """
const texts = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent);
return {
  hosts: [...document.querySelectorAll('#map .node')].map((n) => n.dataset.ip),
  edges: texts('#map .edge-label'),
  rows: texts('#conversations tbody tr'),
  title: document.getElementById('ladder-title').textContent,
  labels: texts('#ladder .label'),
  details: texts('#ladder .detail'),
  notes: texts('#ladder .note'),
  stream: document.getElementById('stream').textContent,
  download: document.getElementById('download').getAttribute('href'),
};
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    try:
        client = common.docker_client()
    except common.LabError as exc:
        if in_ci():
            pytest.fail(f"CI=true but Docker is not usable: {exc}", pytrace=False)
        pytest.skip(f"the watch page's browser tests need a Docker engine: {exc}")
    lab = Lab.start(client)
    try:
        yield lab
    finally:
        problems = lab.teardown()
        assert not problems, "lab teardown: " + "; ".join(problems)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def watch(lab: Lab) -> Iterator[str]:
    """``scripts/lab watch`` for the test lab; stopped with Ctrl-C (SIGINT), which must end it cleanly."""
    port = free_port()
    env = {**lab.env, "PYTHONPATH": str(ROOT / "scripts"), "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "lablib.verbs", "watch", "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"

    def serving() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"scripts/lab watch exited {proc.returncode}: {proc.communicate()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    try:
        wait_for(serving, WATCH_START, interval=0.2, what="scripts/lab watch to serve its page")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"scripts/lab watch ignored Ctrl-C:\n{err}") from None
    assert proc.returncode == 0, f"scripts/lab watch exited {proc.returncode} after Ctrl-C:\n{out}{err}"
    assert "watch stopped" in err and "Traceback" not in err, err


@pytest.fixture
def page(browser: Any, watch: str) -> Any:
    browser.get(watch)
    wait_for(lambda: "packets" in browser.find_element("id", "status").text, 10, 0.1, "the page's first state")
    return browser


def shown(browser: Any) -> dict[str, Any]:
    return browser.execute_script(SHOWN_JS)


def wait_shown(browser: Any, check, what: str, timeout: float = PAGE_DEADLINE) -> dict[str, Any]:
    """Poll the page until ``check(shown)`` holds; the failure message shows what the page had."""
    last: dict[str, Any] = {}

    def ok() -> bool:
        last.update(shown(browser))
        return bool(check(last))

    try:
        wait_for(ok, timeout, 0.05, what)
    except AssertionError:
        raise AssertionError(f"the page did not show {what} within {timeout} s; it showed:\n{last}") from None
    return last


def screenshot(browser: Any, name: str, tmp_path: Path) -> Path:
    folder = EVIDENCE if os.environ.get("SOCKLAB_UPDATE_EVIDENCE") == "1" else tmp_path
    path = folder / name
    assert browser.save_screenshot(str(path)), f"no screenshot written to {path}"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def handshake_in(labels: list[str]) -> bool:
    return labels[:3] == ["SYN", "SYN-ACK", "ACK"]


def test_two_chat_clients_log_in_and_talk(page: Any, lab: Lab, tmp_path: Path) -> None:
    batman = lab.relay("chat-client", "chat-server", CHAT_PORT)
    batman.send("Batman")
    batman.wait_line(r"Batman has joined")
    voldemort = lab.relay("chat-client", "chat-server", CHAT_PORT)
    voldemort.send("Voldemort")
    voldemort.wait_line(r"Voldemort has joined")
    batman.send("Anyone here?")
    voldemort.wait_line(r"^Batman: Anyone here\?$")
    seen = time.monotonic()
    hosts = {batman.ip, voldemort.ip, lab.ip("chat-server")}
    got = wait_shown(
        page,
        lambda s: (
            hosts <= set(s["hosts"])
            and s["edges"].count("chat") >= 2
            and sum("chat-server" in row and "open" in row for row in s["rows"]) >= 2
            and handshake_in(s["labels"])
            and "Chat Batman: Anyone here?" in s["notes"]
        ),
        "both chat clients, their connections, and Voldemort's ladder with the relayed line",
    )
    assert time.monotonic() - seen <= PAGE_DEADLINE
    assert voldemort.ip in got["title"] and "(newest)" in got["title"]  # the newest conversation is selected
    assert '"Batman: Anyone here?\\n"' in got["labels"]  # the segment's bytes, as sent
    assert "[Chat Batman: Anyone here?]" in got["stream"] and "Chat join: Voldemort (members=2)" in got["stream"]
    screenshot(page, "watch-chat.png", tmp_path)

    with urllib.request.urlopen(page.current_url.rstrip("/") + got["download"], timeout=10) as reply:
        data = reply.read()
        assert "attachment" in reply.headers["Content-Disposition"]
    records = pcap.PcapRecords()
    frames = records.feed(data)
    (conv,) = pcap.conversations(pcap.decode_frames(frames, records.linktype or 1).packets)
    assert conv.client[0] == voldemort.ip and conv.service == "chat"
    assert b"Batman: Anyone here?" in [line.data for line in conv.lines]
    batman.send("quit")
    voldemort.send("quit")


def test_a_calculator_session(page: Any, lab: Lab, tmp_path: Path) -> None:
    calc = lab.relay("calc-client", "calc-server", CALC_PORT)
    calc.send("Alice", "12 + 42")
    calc.wait_line(r"^54$")
    seen = time.monotonic()
    got = wait_shown(
        page,
        lambda s: (
            calc.ip in s["hosts"]
            and "calc" in s["edges"]
            and handshake_in(s["labels"])
            and {"Calc name: Alice", "Calc request: 12 + 42", "Calc result: 54"} <= set(s["notes"])
        ),
        "the calculator client, its connection and its ladder",
    )
    assert time.monotonic() - seen <= PAGE_DEADLINE
    assert '"54\\n"' in got["labels"] and "[Calc request: 12 + 42]" in got["stream"]
    calc.send("q")
    calc.wait_line(r"^#relay closed$")
    wait_shown(
        page,
        lambda s: "FIN-ACK" in s["labels"] and any("calc-server" in row and "closed" in row for row in s["rows"]),
        "the FIN exchange after q, and the connection closed",
    )
    screenshot(page, "watch-calc.png", tmp_path)


def test_date_time_requests_and_replies(page: Any, lab: Lab, tmp_path: Path) -> None:
    client_ip = lab.ip("datetime-client")
    wait_shown(page, lambda s: any("UDP datetime" in row for row in s["rows"]), "the date/time flow", timeout=10)
    page.execute_script(
        "[...document.querySelectorAll('#conversations tbody tr')].find((r) => r.textContent.includes('UDP datetime'))"
        ".click()"
    )
    got = wait_shown(
        page,
        lambda s: (
            sum(label in {'"SEND_DATE"', '"SEND_TIME"'} for label in s["labels"]) >= 2
            and any("after the previous request" in d for d in s["details"])
            and any(n.startswith("Date/time reply: ") for n in s["notes"])
        ),
        "the date/time requests, replies and gaps",
        timeout=10,
    )
    assert "UDP" in got["title"] and "datetime" in got["title"] and "(newest)" not in got["title"]
    assert client_ip in got["hosts"] and "datetime" in got["edges"]
    before = len(got["labels"])
    wait_shown(page, lambda s: len(s["labels"]) > before, "a new request drawn as it arrives", timeout=10)
    screenshot(page, "watch-datetime.png", tmp_path)
