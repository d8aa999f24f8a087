"""``python3 -m benchmarks.watch``: does ``scripts/lab watch`` keep up with a busy chat room?

A synthetic chat room (MEMBERS members, each line relayed to every other member, ACKs,
members leaving and new ones joining) is written to a pcap at RATE packets/s, record by
record and flushed, as ``tcpdump -U`` writes. ``scripts/lab watch --capture`` follows the
file (the real program, in its own process). Measured:

* delivery: for every packet, capture timestamp -> its arrow received over the event
  stream (an SSE client in this process): count, p50 / p99 / max;
* on screen: in headless Chromium (when installed), capture timestamp -> the end of the
  page's draw that includes the packet (``window.watchStats``): p50 / p99 / max;
* the watch process's memory (RSS, sampled each second: start, peak, end, growth over the
  second half) and CPU share.

Results: printed, and written to bench-results/watch-<time>.json (gitignored).

    python3 -m benchmarks.watch                      # 1,000 packets/s for 60 s
    python3 -m benchmarks.watch --rate 1000 --seconds 20 --no-browser
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench-results"
SERVER = ("10.99.0.14", 12003)
MEMBERS = 20
CHURN_EVERY = 10  # messages between one member leaving and a new one joining
WRITE_TICK = 0.005  # s between writes of the generator
START_TIMEOUT = 30.0
#: pcap file header (little-endian, microseconds, Ethernet) and record header, as tcpdump writes them.
FILE_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, dpkt.pcap.DLT_EN10MB)
RECORD = struct.Struct("<IIII")
GOAL_P99 = 0.5  # s: issue 15, each packet on screen within 0.5 s (p99)


# --- the chat room, as frames ----------------------------------------------------------------


@dataclass
class Member:
    name: str
    ip: str
    port: int
    cseq: int = 1000
    sseq: int = 5000


def frame(src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, flags: int, data: bytes = b"") -> bytes:
    tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq, ack=ack, flags=flags, win=65535, data=data)
    ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=dpkt.ip.IP_PROTO_TCP, data=tcp)
    eth = dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x02\x01" * 3, type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
    return bytes(eth)


class ChatRoom:
    """Frames of a busy chat room, endlessly: lines relayed to everyone, members coming and going."""

    PSH_ACK = dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK
    ACK = dpkt.tcp.TH_ACK

    def __init__(self, members: int = MEMBERS) -> None:
        self.joined = 0
        self.members: list[Member] = []
        self.sent = 0
        for _ in range(members):
            self.members.append(self._member())

    def _member(self) -> Member:
        self.joined += 1
        n = self.joined
        return Member(f"m{n}", f"10.99.{1 + n // 250 % 250}.{2 + n % 250}", 40000 + n % 20000)

    def _data(self, m: Member, from_client: bool, data: bytes) -> Iterator[bytes]:
        ep = (m.ip, m.port)
        if from_client:
            yield frame(ep, SERVER, m.cseq, m.sseq, self.PSH_ACK, data)
            m.cseq += len(data)
            yield frame(SERVER, ep, m.sseq, m.cseq, self.ACK)
        else:
            yield frame(SERVER, ep, m.sseq, m.cseq, self.PSH_ACK, data)
            m.sseq += len(data)
            yield frame(ep, SERVER, m.cseq, m.sseq, self.ACK)

    def _to_all(self, line: bytes, but: Member | None = None) -> Iterator[bytes]:
        for other in self.members:
            if other is not but:
                yield from self._data(other, False, line)

    def _join(self, m: Member) -> Iterator[bytes]:
        ep = (m.ip, m.port)
        yield frame(ep, SERVER, m.cseq - 1, 0, dpkt.tcp.TH_SYN)
        yield frame(SERVER, ep, m.sseq - 1, m.cseq, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK)
        yield frame(ep, SERVER, m.cseq, m.sseq, self.ACK)
        yield from self._data(m, True, m.name.encode() + b"\n")
        notice = f"Server: time=12:00:00 {m.name} has joined. Member count={len(self.members)}\n"
        yield from self._to_all(notice.encode())

    def _leave(self, m: Member) -> Iterator[bytes]:
        ep = (m.ip, m.port)
        yield from self._data(m, True, b"quit\n")
        yield frame(SERVER, ep, m.sseq, m.cseq, dpkt.tcp.TH_FIN | self.ACK)
        yield frame(ep, SERVER, m.cseq, m.sseq + 1, dpkt.tcp.TH_FIN | self.ACK)
        yield frame(SERVER, ep, m.sseq + 1, m.cseq + 1, self.ACK)
        self.members.remove(m)
        yield from self._to_all(f"Server: time=12:00:00 {m.name} has left. Member count={len(self.members)}\n".encode())

    def frames(self) -> Iterator[bytes]:
        for m in self.members:
            yield from self._join(m)
        while True:
            speaker = self.members[self.sent % len(self.members)]
            self.sent += 1
            text = f"message {self.sent} from {speaker.name}: the quick brown fox"
            yield from self._data(speaker, True, text.encode() + b"\n")
            yield from self._to_all(f"{speaker.name}: {text}\n".encode(), but=speaker)
            if self.sent % CHURN_EVERY == 0:
                yield from self._leave(self.members[0])
                newcomer = self._member()
                self.members.append(newcomer)
                yield from self._join(newcomer)


def write_capture(path: Path, rate: float, frames: list[bytes], stop: threading.Event) -> int:
    """Write ``frames`` at ``rate`` packets/s, flushing each tick; return the count.

    The frames are made beforehand, so building them costs the machine nothing while the watch is measured.
    """
    seconds = len(frames) / rate
    frames_left = iter(frames)
    written = 0
    with path.open("ab", buffering=0) as raw:
        start = time.monotonic()
        while not stop.is_set():
            elapsed = time.monotonic() - start
            if elapsed >= seconds:
                break
            due = min(int(rate * elapsed), len(frames)) - written
            if due > 0:
                now = time.time()
                sec, usec = int(now), int((now % 1) * 1e6)
                chunk = bytearray()
                for _ in range(due):
                    data = next(frames_left)
                    chunk += RECORD.pack(sec, usec, len(data), len(data))
                    chunk += data
                raw.write(chunk)
                written += due
            time.sleep(WRITE_TICK)
    return written


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Delays:
    values: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        if not self.values:
            return {"count": 0}
        ordered = sorted(self.values)

        def ms(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

        return {"count": len(ordered), "p50_ms": ms(0.50), "p99_ms": ms(0.99), "max_ms": ms(1.0)}


def read_events(url: str, delays: Delays, stop: threading.Event) -> None:
    """An SSE client: for every arrow of every batch, now - its capture timestamp."""
    with urllib.request.urlopen(url + "events", timeout=30) as stream:
        event = ""
        for raw in stream:
            if stop.is_set():
                return
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "batch":
                now = time.time()
                delays.values += [now - a["ts"] for a in json.loads(line[6:])["arrows"]]


def proc_sample(pid: int) -> tuple[float, float]:
    """(RSS in MB, CPU seconds used) of a process, from /proc."""
    rss = next(int(x.split()[1]) for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return rss / 1024, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_page(url: str):  # noqa: ANN201 (selenium is optional)
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.get(url)
    return driver


def start_watch(capture: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    argv = [sys.executable, "-m", "lablib.verbs", "watch", "--no-docker", "--capture", str(capture)]
    argv += ["--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state", timeout=2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                raise SystemExit(f"watch exited {proc.returncode}: {err}") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("watch did not serve its page in time")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(rate: float, seconds: float, use_browser: bool) -> dict:
    room = ChatRoom().frames()
    frames = [next(room) for _ in range(int(rate * seconds))]
    work = Path(tempfile.mkdtemp(prefix="watch-bench-"))
    capture = work / "lab.pcap"
    with capture.open("wb") as f:
        f.write(FILE_HEADER)  # as tcpdump writes it first
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    watch = start_watch(capture, port)
    stop = threading.Event()
    delays = Delays()
    reader = threading.Thread(target=read_events, args=(url, delays, stop), daemon=True)
    reader.start()
    page = browser_page(url) if use_browser else None
    time.sleep(1.0)  # the page and the event stream are connected before the first packet
    samples: list[tuple[float, float, float]] = []
    count: list[int] = []
    writer = threading.Thread(target=lambda: count.append(write_capture(capture, rate, frames, stop)))
    t0 = time.monotonic()
    writer.start()
    while writer.is_alive():
        samples.append((time.monotonic() - t0, *proc_sample(watch.pid)))
        writer.join(1.0)
    time.sleep(1.0)  # the last packets reach the page
    stats = page.execute_script("return window.watchStats") if page else None
    stop.set()
    if page:
        page.quit()
    watch.terminate()
    watch.wait(10)
    shutil.rmtree(work, ignore_errors=True)
    rss = [s[1] for s in samples]
    half = [s for s in samples if s[0] >= seconds / 2]
    cpu_share = (samples[-1][2] - samples[0][2]) / max(samples[-1][0] - samples[0][0], 1e-9)
    return {
        "rate_goal": rate,
        "seconds": seconds,
        "packets_written": count[0] if count else 0,
        "delivery": Delays(delays.values).summary(),
        "on_screen": Delays(stats["latencies"]).summary() if stats else "no browser (chromium + chromium-driver)",
        "on_screen_note": "the page keeps the latest 20,000 delays" if stats else "",
        "watch_rss_mb": {
            "start": round(rss[0], 1),
            "peak": round(max(rss), 1),
            "end": round(rss[-1], 1),
            "second_half_growth": round(half[-1][1] - half[0][1], 1) if len(half) > 1 else None,
            "every_10_s": [round(s[1], 1) for s in samples[::10]],
        },
        "watch_cpu_share": round(cpu_share, 2),
        "loadavg": os.getloadavg(),
        "cores": os.cpu_count(),
        "goal_p99_ms": GOAL_P99 * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.watch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="packets per second written (default 1000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long (default 60)")
    parser.add_argument("--no-browser", action="store_true", help="measure the event stream only")
    args = parser.parse_args(argv)
    result = run(args.rate, args.seconds, not args.no_browser)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"watch-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
