"""Client roles: a recording reference server answers the student's client; the run is then judged.

The checker listens (``--listen``/``--port``); the client is either started by
the checker (``--cmd``, with ``{host}`` ``{port}`` ``{name}`` filled in and, for
the calculator, a scripted stdin) or started elsewhere and pointed at the
checker, which then records for ``--duration`` seconds.

The cases that judge a run are in ``cases_clients.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shlex
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from services.calc import protocol as calc_protocol
from services.check.core import CaseResult, ClientCase, Config
from services.check.process import Process
from services.check.session import CaseFailed, Transcript, show
from services.datetime import protocol as datetime_protocol
from services.framing import MAX_LINE, LineDecoder

#: Seconds the datetime client is recorded when started with --cmd and no --duration: about 13
#: requests, so a client choosing at random sends only one kind with odds of 1 in 4000.
DATETIME_DURATION = 20.0
#: Seconds the calculator client may take to work through its script.
CALC_LIMIT = 15.0
#: The calculator client's stdin: valid requests, malformed lines in between, then q (cases_clients.CALC_VALID).
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
    exit_code: int | None = None
    started: bool = False
    #: calc, strict: a second run whose stdin ends without 'q'.
    eof_run: Run | None = None


# -- starting the client under test -----------------------------------------------------------------


def start_client(cfg: Config, port: int, run: Run, stdin_lines: list[str] | None) -> Process | None:
    """The client under test (``cfg.cmd``), its output noted in the run's transcript as it comes."""
    if not cfg.cmd:
        return None
    connect_host = "127.0.0.1" if cfg.host in {"0.0.0.0", ""} else cfg.host
    argv = [part.format(host=connect_host, port=port, name=cfg.name) for part in shlex.split(cfg.cmd)]
    run.transcript.add("cmd", "note", " ".join(shlex.quote(a) for a in argv))
    proc = Process(
        argv,
        stdin=True,
        on_line=lambda line: run.transcript.add("out", "note", show(line)),
        limit=OUTPUT_LIMIT,
    )
    run.output = proc.lines
    run.started = True
    if stdin_lines is None:
        return proc
    with contextlib.suppress(OSError):
        for line in stdin_lines:
            run.transcript.add("stdin", "note", show(line + "\n"))
            proc.write(line + "\n")
    proc.close_stdin()
    return proc


def stop_client(proc: Process | None, run: Run, wait: float) -> None:
    """Wait up to ``wait`` s for the client to exit by itself, then stop it; read all it printed."""
    if proc is None:
        return
    run.exit_code = proc.wait_exit(wait)
    if run.exit_code is None:
        run.transcript.add("cmd", "note", f"still running after {wait:g} s: stopped")
    else:
        run.transcript.add("cmd", "note", f"exited with status {run.exit_code}")
    # Judge only once everything the client printed has been read.
    proc.stop(STOP_TIMEOUT)


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


def record_calc_runs(cfg: Config, eof_run: bool) -> Run:
    """The calculator client's scripted run, and with ``eof_run`` a second one whose stdin ends without 'q'."""
    run = record_calc(cfg, cfg.duration, CALC_SCRIPT)
    if eof_run:
        run.eof_run = record_calc(cfg, cfg.duration, CALC_SCRIPT[:-1])
    return run


def record_datetime_run(cfg: Config, eof_run: bool) -> Run:
    return record_datetime(cfg, cfg.duration)


# -- judging ----------------------------------------------------------------------------------------

#: How a client role is recorded: ``(config, whether a case wants the end-of-input run) -> Run``.
Recorder = Callable[[Config, bool], Run]


def judge_run(cases: list[ClientCase], cfg: Config, record: Recorder) -> list[CaseResult]:
    """Record one run of the client (two when a case wants the end-of-input run), then judge each case on it.

    Cases that judge stdin/stdout or need a second run are left out when the
    client was started elsewhere (no ``cfg.cmd``).
    """
    chosen = [c for c in cases if (not cfg.only or c.name in cfg.only) and (cfg.cmd or not c.needs_cmd)]
    start = time.monotonic()
    run = record(cfg, bool(cfg.cmd) and any(c.on_eof_run for c in chosen))
    ms = round((time.monotonic() - start) * 1000, 1)
    results = []
    for c in chosen:
        source = run.eof_run if c.on_eof_run else run
        passed, message = True, ""
        try:
            if source is None:
                raise CaseFailed("no second run")
            c.judge(source, cfg)
        except CaseFailed as exc:
            passed, message = False, str(exc)
        results.append(CaseResult(c.name, c.level, passed, message, (source or run).transcript.to_list(), ms))
    return results
