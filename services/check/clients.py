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
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from services.calc import protocol as calc_protocol
from services.check import judge
from services.check.core import CaseResult, ClientCase, Config
from services.check.process import Process
from services.check.session import QUIET_S, CaseFailed, Transcript, show
from services.datetime import protocol as datetime_protocol
from services.framing import MAX_LINE, LineDecoder

#: Largest request datagram read.
MAX_DATAGRAM = 65535
#: Linux's socket option for kernel receive timestamps (Python does not name it; 35 on x86-64 and arm64).
SO_TIMESTAMPNS: int | None = getattr(socket, "SO_TIMESTAMPNS", 35 if sys.platform == "linux" else None)
#: ``struct timespec`` as SO_TIMESTAMPNS delivers it: two C longs.
TIMESPEC = struct.Struct("@ll")
#: Seconds the calculator client may take to work through its script.
CALC_LIMIT = 15.0
#: Seconds the checker waits for a calculator client started elsewhere (no --cmd) to finish a session.
CLIENT_WAIT = 20.0
#: The calculator client's stdin: valid requests, malformed lines in between, then q (cases_clients.CALC_VALID).
CALC_SCRIPT = ["12 + 42", "hello", "4.5 / -6", "12 +", "3 ^ 4", "", "1 2 3", "7 - 10", "q"]
OUTPUT_LIMIT = 1 << 20
#: Seconds the client may take to start and send its name before lines are typed anyway.
CLIENT_START_S = 5.0
#: The longest wait for quiet before a line is typed (a client that prints without end).
TYPING_MAX_S = 3.0
POLL_S = 0.02
#: The name the recording server gives a client that sends a request first.
NO_NAME = "(no name)"
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
    #: calc: lines that came without a line end (ended by a quiet pause or the end of the stream).
    unterminated: list[str] = field(default_factory=list)
    exit_code: int | None = None
    started: bool = False
    #: calc, strict: a second run whose stdin ends without 'q'.
    eof_run: Run | None = None


# -- starting the client under test -----------------------------------------------------------------


def start_client(cfg: Config, port: int, run: Run) -> Process | None:
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
    return proc


def type_lines(proc: Process, run: Run, lines: list[str], limit: float) -> None:
    """Type ``lines`` into the client as a person would, then end its input.

    The first line once the client has sent something (its name), each line once
    nothing has happened for ``QUIET_S`` (the reply came and was printed, or the
    client warned about a bad line): so a client that reads one ``recv`` per
    message never gets two lines in one segment because of the checker.
    """
    end = time.monotonic() + limit
    _wait_for(lambda: any(run.sessions) or proc.returncode is not None, min(end, time.monotonic() + CLIENT_START_S))
    with contextlib.suppress(OSError):  # the client may have exited: the cases say what is missing
        for line in lines:
            _wait_quiet(run, min(end, time.monotonic() + TYPING_MAX_S))
            run.transcript.add("stdin", "note", show(line + "\n"))
            proc.write(line + "\n")
    proc.close_stdin()


def _wait_for(ready: Callable[[], object], until: float) -> None:
    while not ready() and time.monotonic() < until:
        time.sleep(POLL_S)


def _wait_quiet(run: Run, until: float) -> None:
    """Until nothing was sent, received or printed for QUIET_S (or ``until``)."""
    seen, since = len(run.transcript.events), time.monotonic()
    while (now := time.monotonic()) < until and now - since < QUIET_S:
        time.sleep(POLL_S)
        if len(run.transcript.events) != seen:
            seen, since = len(run.transcript.events), time.monotonic()


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


def record_datetime(cfg: Config, limit: float, settled: Callable[[Run], bool]) -> Run:
    """Answer the client's requests (socklab's reply) until ``settled(run)`` or ``limit`` seconds.

    Each request is timed by the kernel as it arrives (``SO_TIMESTAMPNS``), so
    a checker slowed by a loaded machine does not shift the gaps it judges.
    """
    run = Run()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        stamped = _timestamp_arrivals(sock)
        sock.bind((cfg.host, cfg.port))
        port = sock.getsockname()[1]
        run.transcript.add("srv", "note", f"recording datetime requests on {cfg.host}:{port}/udp")
        proc = start_client(cfg, port, run)
        wall0 = time.time() - (time.monotonic() - run.transcript.t0)  # wall-clock time of the run's start
        end = time.monotonic() + limit
        while (left := end - time.monotonic()) > 0 and not settled(run):
            sock.settimeout(left)
            try:
                data, arrived, addr = _recv_stamped(sock, stamped)
            except TimeoutError:
                break
            since = arrived - wall0 if arrived is not None else time.monotonic() - run.transcript.t0
            run.datagrams.append((since, data))
            run.transcript.add(f"{addr[1]}", "recv", show(data))
            reply = datetime_protocol.reply(data, dt.datetime.now())
            run.replies.append(reply)
            sock.sendto(reply, addr)
            run.transcript.add(f"{addr[1]}", "send", show(reply))
        if settled(run):
            run.transcript.add("srv", "note", "seen enough to judge every case: recording stopped")
        stop_client(proc, run, 0)
    return run


def _timestamp_arrivals(sock: socket.socket) -> bool:
    """Ask the kernel to stamp each datagram's arrival; False where it cannot."""
    if SO_TIMESTAMPNS is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def _recv_stamped(sock: socket.socket, stamped: bool) -> tuple[bytes, float | None, tuple[str, int]]:
    """One datagram, its kernel arrival time (wall clock, s; None if not stamped) and its sender."""
    if not stamped:
        data, addr = sock.recvfrom(MAX_DATAGRAM)
        return data, None, addr
    data, ancillary, _flags, addr = sock.recvmsg(MAX_DATAGRAM, socket.CMSG_SPACE(TIMESPEC.size))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack_from(payload)
            return data, seconds + nanoseconds / 1e9, addr
    return data, None, addr


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
        proc = start_client(cfg, port, run)
        limit = duration or (CALC_LIMIT if proc is not None else CLIENT_WAIT)
        if proc is not None:
            started = time.monotonic()
            type_lines(proc, run, script, limit)
            stop_client(proc, run, max(limit - (time.monotonic() - started), 0))
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
    """Answer one client with socklab's calculator until 'q' or the end of the stream.

    Lines end with LF; a message without one, followed by ``QUIET_S`` of silence
    or the end of the stream, is a line too (as the course's ``send(name.encode())``
    writes it), noted in ``run.unterminated`` for the strict case. A client that
    starts with a request instead of its name is answered all the same, so its
    other cases can be judged (calc-client.sends-name-first reports the fault).
    """
    session = calc_protocol.Session(label)
    decoder = LineDecoder(MAX_LINE)
    while True:
        conn.settimeout(QUIET_S if decoder.pending else CALC_LIMIT)
        try:
            data = conn.recv(65536)
        except TimeoutError:
            if not decoder.pending:
                return
            data = None
        except OSError:
            return
        if data:
            run.transcript.add(label, "recv", show(data))
            items = decoder.feed(data)
        else:
            items = decoder.close()  # quiet, or the end of the stream: what is left is a line
            run.unterminated += [item for item in items if isinstance(item, str)]
        for item in items:
            lines.append(item if isinstance(item, str) else f"<{item}>")
            if _answer(conn, label, session, item, run):
                return
        if data == b"":
            run.transcript.add(label, "eof", "closed by client")
            return


def _answer(conn: socket.socket, label: str, session: calc_protocol.Session, item: str | Exception, run: Run) -> bool:
    """Reply to one line as socklab's server does; True once the session is over."""
    if isinstance(item, str) and session.name is None and judge.calc_request(item) is not None:
        session.handle(NO_NAME)  # a request first: the client forgot its name
    reply = session.handle(item) if isinstance(item, str) else session.reject(item)
    if reply.send is not None:
        conn.sendall(reply.send.encode() + b"\n")
        run.transcript.add(label, "send", show(reply.send + "\n"))
    if reply.close:
        run.transcript.add(label, "close", "closed after q")
    return reply.close


def record_calc_runs(cfg: Config, eof_run: bool) -> Run:
    """The calculator client's scripted run, and with ``eof_run`` a second one whose stdin ends without 'q'."""
    run = record_calc(cfg, cfg.duration, CALC_SCRIPT)
    if eof_run:
        run.eof_run = record_calc(cfg, cfg.duration, CALC_SCRIPT[:-1])
    return run


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
