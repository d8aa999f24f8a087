"""Client roles: a recording reference server answers the student's client, then cases judge what it sent.

The checker listens (``--listen``/``--port``); the client is either started by
the checker (``--cmd``, with ``{host}`` ``{port}`` ``{name}`` filled in and, for
the calculator, a scripted stdin) or started elsewhere and pointed at the
checker, which then records for ``--duration`` seconds.

datetime-client (lab): only ``SEND_DATE``/``SEND_TIME`` requests, 1-2 s apart,
both kinds sent, and (with ``--cmd``) each reply printed. strict: the request
datagrams are exactly the 9 bytes.

calc-client (lab): the name first, never a malformed line, the typed requests
forwarded, answers printed, ``q`` forwarded and the client gone. strict: the
lines exactly as typed, and end of input acts as ``q``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from services.calc import protocol as calc_protocol
from services.check import judge
from services.check.core import Case, CaseResult, Config, cases_for
from services.check.session import CaseFailed, Transcript, show
from services.datetime import protocol as datetime_protocol
from services.framing import MAX_LINE, LineDecoder

#: Seconds the datetime client is recorded when started with --cmd and no --duration: about 13
#: requests, so a client choosing at random sends only one kind with odds of 1 in 4000.
DATETIME_DURATION = 20.0
#: Seconds the calculator client may take to work through its script.
CALC_LIMIT = 15.0
MIN_GAP, MAX_GAP = 1.0, 2.0
#: Slack on the 1-2 s gaps: scheduling jitter early, printing and a round trip late.
GAP_SLACK_LOW, GAP_SLACK_HIGH = 0.1, 0.3
MIN_REQUESTS = 3
DATETIME_REQUESTS = {b"SEND_DATE", b"SEND_TIME"}
#: The calculator client's stdin: valid requests with their answers, malformed lines in between, then q.
CALC_VALID = {"12 + 42": 54.0, "4.5 / -6": -0.75, "7 - 10": -3.0}
CALC_SCRIPT = ["12 + 42", "hello", "4.5 / -6", "12 +", "3 ^ 4", "", "1 2 3", "7 - 10", "q"]
OUTPUT_LIMIT = 1 << 20
STOP_TIMEOUT = 3.0


@dataclass
class Run:
    """One client run as the recording server saw it."""

    transcript: Transcript = field(default_factory=Transcript)
    #: datetime: (seconds since start, datagram); calc: per connection, the lines in order.
    datagrams: list[tuple[float, bytes]] = field(default_factory=list)
    replies: list[bytes] = field(default_factory=list)
    sessions: list[list[str]] = field(default_factory=list)
    closed: list[bool] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    collector: threading.Thread | None = None  # reads the client's output until it exits
    exit_code: int | None = None
    started: bool = False
    #: calc, strict: a second run whose stdin ends without 'q'.
    eof_run: Run | None = None


# -- starting the client under test -----------------------------------------------------------------


def start_client(cfg: Config, port: int, run: Run, stdin_lines: list[str] | None) -> subprocess.Popen[str] | None:
    if not cfg.cmd:
        return None
    connect_host = "127.0.0.1" if cfg.host in {"0.0.0.0", ""} else cfg.host
    argv = [part.format(host=connect_host, port=port, name=cfg.name) for part in shlex.split(cfg.cmd)]
    run.transcript.add("cmd", "note", " ".join(shlex.quote(a) for a in argv))
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    run.started = True
    run.collector = threading.Thread(target=_collect, args=(proc, run), daemon=True)
    run.collector.start()
    assert proc.stdin is not None
    if stdin_lines is None:
        return proc
    with contextlib.suppress(OSError):
        for line in stdin_lines:
            run.transcript.add("stdin", "note", show(line + "\n"))
            proc.stdin.write(line + "\n")
        proc.stdin.close()
    return proc


def _collect(proc: subprocess.Popen[str], run: Run) -> None:
    assert proc.stdout is not None
    size = 0
    for line in proc.stdout:
        size += len(line)
        if size <= OUTPUT_LIMIT:
            run.output.append(line.rstrip("\n"))
            run.transcript.add("out", "note", show(line.rstrip("\n")))


def stop_client(proc: subprocess.Popen[str] | None, run: Run, wait: float) -> None:
    """Wait up to ``wait`` s for the client to exit by itself, then stop it."""
    if proc is None:
        return
    try:
        run.exit_code = proc.wait(wait)
        run.transcript.add("cmd", "note", f"exited with status {run.exit_code}")
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        run.transcript.add("cmd", "note", f"still running after {wait:g} s: stopped")
    # Judge only once everything the client printed has been read.
    if run.collector is not None:
        run.collector.join(STOP_TIMEOUT)


# -- the recording servers --------------------------------------------------------------------------


def record_datetime(cfg: Config, duration: float | None) -> Run:
    run = Run()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((cfg.host, cfg.port))
        port = sock.getsockname()[1]
        run.transcript.add("srv", "note", f"recording datetime requests on {cfg.host}:{port}/udp")
        proc = start_client(cfg, port, run, stdin_lines=None)
        end = time.monotonic() + (duration or DATETIME_DURATION)
        while (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, addr = sock.recvfrom(65535)
            except TimeoutError:
                break
            run.datagrams.append((time.monotonic() - run.transcript.t0, data))
            run.transcript.add(f"{addr[1]}", "recv", show(data))
            reply = datetime_protocol.reply(data, dt.datetime.now())
            run.replies.append(reply)
            sock.sendto(reply, addr)
            run.transcript.add(f"{addr[1]}", "send", show(reply))
        stop_client(proc, run, 0)
    return run


def record_calc(cfg: Config, duration: float | None, script: list[str]) -> Run:
    """Serve calc sessions (socklab's own protocol code answers) until the client is done."""
    run = Run()
    done = threading.Event()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((cfg.host, cfg.port))
        listener.listen(8)
        port = listener.getsockname()[1]
        run.transcript.add("srv", "note", f"recording calc sessions on {cfg.host}:{port}/tcp")
        threading.Thread(target=_accept, args=(listener, run, done), daemon=True).start()
        proc = start_client(cfg, port, run, stdin_lines=script)
        limit = duration or CALC_LIMIT
        if proc is not None:
            stop_client(proc, run, limit)
            done.wait(STOP_TIMEOUT)
        else:
            done.wait(limit)
    return run


def _accept(listener: socket.socket, run: Run, done: threading.Event) -> None:
    try:
        conn, addr = listener.accept()
    except OSError:
        return
    label = f"C{len(run.sessions) + 1}"
    run.transcript.add(label, "connect", f"from {addr[0]}:{addr[1]}")
    lines: list[str] = []
    run.sessions.append(lines)
    run.closed.append(False)
    try:
        _serve_calc(conn, label, lines, run)
        run.closed[-1] = True
    finally:
        conn.close()
        done.set()


def _serve_calc(conn: socket.socket, label: str, lines: list[str], run: Run) -> None:
    session = calc_protocol.Session(label)
    decoder = LineDecoder(MAX_LINE)
    conn.settimeout(CALC_LIMIT)
    while True:
        try:
            data = conn.recv(65536)
        except OSError:
            return
        if not data:
            run.transcript.add(label, "eof", "closed by client")
            return
        run.transcript.add(label, "recv", show(data))
        for item in decoder.feed(data):
            lines.append(item if isinstance(item, str) else f"<{item}>")
            reply = session.reject(item) if not isinstance(item, str) else session.handle(item)
            if reply.send is not None:
                conn.sendall(reply.send.encode() + b"\n")
                run.transcript.add(label, "send", show(reply.send + "\n"))
            if reply.close:
                run.transcript.add(label, "close", "closed after q")
                return


# -- datetime-client cases --------------------------------------------------------------------------

Judge = Callable[[Run, Config], None]


def client_case(name: str, level: str, doc: str, needs_cmd: bool = False) -> Callable[[Judge], Case]:
    def wrap(func: Judge) -> Case:
        c = Case(name, level, lambda s, cfg: None, doc)
        JUDGES[name] = (func, needs_cmd)
        return c

    return wrap


JUDGES: dict[str, tuple[Judge, bool]] = {}


def requests_seen(run: Run) -> list[bytes]:
    if not run.datagrams:
        raise CaseFailed("no request arrived" + (" (the client never sent one)" if run.started else ""))
    return [data for _, data in run.datagrams]


@client_case("datetime-client.requests", "lab", "every request is SEND_DATE or SEND_TIME")
def dt_requests(run: Run, cfg: Config) -> None:
    for data in requests_seen(run):
        if data.strip() not in DATETIME_REQUESTS:
            raise CaseFailed(f"request {data!r} is neither SEND_DATE nor SEND_TIME")


@client_case("datetime-client.gaps", "lab", "successive requests are 1-2 s apart")
def dt_gaps(run: Run, cfg: Config) -> None:
    times = [t for t, _ in run.datagrams]
    if len(times) < MIN_REQUESTS:
        raise CaseFailed(f"expected at least {MIN_REQUESTS} requests to judge the gaps, got {len(times)}")
    for i, (a, b) in enumerate(zip(times, times[1:], strict=False)):
        if not judge.gap_ok(b - a, MIN_GAP - GAP_SLACK_LOW, MAX_GAP + GAP_SLACK_HIGH):
            raise CaseFailed(f"requests {i + 1} and {i + 2} came {b - a:.2f} s apart, expected 1-2 s")


@client_case("datetime-client.mix", "lab", "both SEND_DATE and SEND_TIME are sent")
def dt_mix(run: Run, cfg: Config) -> None:
    kinds = {data.strip() for data in requests_seen(run)}
    if not kinds >= DATETIME_REQUESTS:
        raise CaseFailed(f"{len(run.datagrams)} requests, all {sorted(kinds)[0].decode(errors='replace')!r}")


@client_case("datetime-client.prints-replies", "lab", "the client prints each reply it gets", needs_cmd=True)
def dt_prints(run: Run, cfg: Config) -> None:
    requests_seen(run)  # a client that never asked has printed no reply either
    if not run.replies:
        raise CaseFailed("no reply was sent, so none could be printed")
    text = "\n".join(run.output)
    # The last reply may be in flight when the client is stopped.
    for reply in run.replies[:-1] or run.replies:
        shown = reply.decode().strip()
        if shown not in text:
            raise CaseFailed(f"the reply {shown!r} does not appear in the client's output")


@client_case("datetime-client.exact-requests", "strict", "each request datagram is exactly SEND_DATE or SEND_TIME")
def dt_exact(run: Run, cfg: Config) -> None:
    for data in requests_seen(run):
        if data not in DATETIME_REQUESTS:
            raise CaseFailed(f"request {data!r} is not exactly b'SEND_DATE' or b'SEND_TIME'")


# -- calc-client cases ------------------------------------------------------------------------------


def calc_lines(run: Run) -> list[str]:
    if not run.sessions:
        raise CaseFailed("the client never connected")
    return run.sessions[0]


@client_case("calc-client.sends-name-first", "lab", "the first line is the client's name")
def calc_name_first(run: Run, cfg: Config) -> None:
    lines = calc_lines(run)
    if not lines:
        raise CaseFailed("the client sent nothing")
    first = lines[0]
    if not first.strip() or first.strip() == "q" or judge.calc_request(first):
        raise CaseFailed(f"the first line should be a name, got {first!r}")


@client_case("calc-client.no-malformed-lines", "lab", "the client never sends a malformed request")
def calc_no_malformed(run: Run, cfg: Config) -> None:
    for line in calc_lines(run)[1:]:
        if line.strip() != "q" and judge.calc_request(line) is None:
            raise CaseFailed(f"the client sent the malformed line {line!r} (it should warn and not send it)")


@client_case("calc-client.forwards-requests", "lab", "every well-formed typed request is sent", needs_cmd=True)
def calc_forwards(run: Run, cfg: Config) -> None:
    sent = [judge.calc_request(line) for line in calc_lines(run)[1:]]
    for typed in CALC_VALID:
        if judge.calc_request(typed) not in sent:
            raise CaseFailed(f"the typed request {typed!r} was never sent")


@client_case("calc-client.prints-answers", "lab", "the client prints the answer to each request", needs_cmd=True)
def calc_prints(run: Run, cfg: Config) -> None:
    for typed, value in CALC_VALID.items():
        if not any(judge.has_value(line, value) for line in run.output if typed not in line):
            raise CaseFailed(f"the answer to {typed!r} ({value:g}) does not appear in the client's output")


@client_case("calc-client.forwards-q", "lab", "'q' is sent last, then the client closes and exits")
def calc_q(run: Run, cfg: Config) -> None:
    quits_last(run)


def quits_last(run: Run) -> None:
    lines = calc_lines(run)
    if not lines or lines[-1].strip() != "q":
        raise CaseFailed(f"expected 'q' as the last line, got {lines[-1:]!r}")
    if not run.closed[0]:
        raise CaseFailed("the client did not close the connection after 'q'")
    if run.started and run.exit_code is None:
        raise CaseFailed("the client did not exit after 'q'")


@client_case("calc-client.exact-lines", "strict", "the name, each request and q are sent exactly as given")
def calc_exact(run: Run, cfg: Config) -> None:
    lines = calc_lines(run)
    if run.started and lines and lines[0] != cfg.name:
        raise CaseFailed(f"expected the name {cfg.name!r} as the first line, got {lines[0]!r}")
    for line in lines[1:]:
        # Malformed lines are calc-client.no-malformed-lines' fault; here only the form of good ones counts.
        request = judge.calc_request(line)
        if request is not None and line not in CALC_VALID and request in map(judge.calc_request, CALC_VALID):
            raise CaseFailed(f"the request {line!r} was not sent exactly as typed")
        if line.strip() == "q" and line != "q":
            raise CaseFailed(f"'q' was sent as {line!r}")


@client_case("calc-client.eof-quits", "strict", "end of input without 'q' still sends 'q' and exits", needs_cmd=True)
def calc_eof(run: Run, cfg: Config) -> None:
    if run.eof_run is None:
        raise CaseFailed("no second run")
    quits_last(run.eof_run)


# -- running ----------------------------------------------------------------------------------------

DATETIME_CASES = [dt_requests, dt_gaps, dt_mix, dt_prints, dt_exact]
CALC_CASES = [calc_name_first, calc_no_malformed, calc_forwards, calc_prints, calc_q, calc_exact, calc_eof]
CASES = {"datetime-client": DATETIME_CASES, "calc-client": CALC_CASES}


def run_client_checks(role: str, cfg: Config) -> list[CaseResult]:
    chosen = [
        c
        for c in cases_for(role, cfg.level)
        if (not cfg.only or c.name in cfg.only) and (cfg.cmd or not JUDGES[c.name][1])
    ]
    start = time.monotonic()
    if role == "datetime-client":
        run = record_datetime(cfg, cfg.duration)
    else:
        run = record_calc(cfg, cfg.duration, CALC_SCRIPT)
        if cfg.cmd and any(c.name == "calc-client.eof-quits" for c in chosen):
            run.eof_run = record_calc(cfg, cfg.duration, CALC_SCRIPT[:-1])
    ms = round((time.monotonic() - start) * 1000, 1)
    results = []
    for c in chosen:
        passed, message = True, ""
        try:
            JUDGES[c.name][0](run, cfg)
        except CaseFailed as exc:
            passed, message = False, str(exc)
        source = run.eof_run if c.name == "calc-client.eof-quits" and run.eof_run else run
        results.append(CaseResult(c.name, c.level, passed, message, source.transcript.to_list(), ms))
    return results
