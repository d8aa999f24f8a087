"""Cases for the client roles: each judges one recorded run of the student's client (see ``clients.py``).

datetime-client (lab): only ``SEND_DATE``/``SEND_TIME`` requests, 1-2 s apart
with a pause that varies, both kinds sent, and (with ``--cmd``) each reply
printed. The client is recorded until these verdicts are certain, or for at
most ``DATETIME_DURATION`` seconds, long enough that a correct client fails with
odds below 1e-6. strict: the request datagrams are exactly the 9 bytes.

calc-client (lab): the name first, never a malformed line, the typed requests
forwarded, answers printed, ``q`` forwarded and the client gone. strict: the
lines exactly as typed, and end of input acts as ``q``.
"""

from __future__ import annotations

from services.check import judge
from services.check.clients import Recorder, Run, judge_run, record_calc_runs, record_datetime
from services.check.core import CaseResult, Config, cases_for, client_case
from services.check.session import CaseFailed

MIN_GAP, MAX_GAP = 1.0, 2.0
#: Slack on the 1-2 s gaps: timer jitter early; a reply's round trip, printing and a loaded machine late
#: (requests are timed by the kernel as they arrive, so the checker's own delays do not count).
GAP_SLACK_LOW, GAP_SLACK_HIGH = 0.1, 0.5
MIN_REQUESTS = 3
#: The pause must vary: at least VARIED_GAPS gaps longer than VARIED_ABOVE s. A uniform 1-2 s pause
#: is longer than 1.25 s three times in four; a fixed 1 s pause never is.
VARIED_ABOVE, VARIED_GAPS = 1.25, 3
DATETIME_REQUESTS = {b"SEND_DATE", b"SEND_TIME"}
#: Requests a correct client (either request at random, 1-2 s apart) gets to send before the
#: recording ends: it sends only one kind with odds 2 ** (1 - 22) = 4.8e-7, and fewer than
#: VARIED_GAPS of its 21 gaps are over VARIED_ABOVE with odds 4.4e-10, so it fails below 1e-6
#: (tests/unit/test_check_clients.py computes this and checks it by simulation).
DATETIME_REQUESTS_NEEDED = 22
#: Time for the client to start before its first request, and for a round trip and printing per gap.
CLIENT_START_S, ROUND_TRIP_S = 4.0, 0.1
#: The most seconds the datetime client is recorded: DATETIME_REQUESTS_NEEDED requests at the longest
#: gaps take CLIENT_START_S + 21 * (MAX_GAP + ROUND_TRIP_S) = 48.1 s. Recording stops as soon as every
#: lab case can be judged (a few seconds for a correct client).
DATETIME_DURATION = 50.0
#: The valid requests in the calculator client's stdin (clients.CALC_SCRIPT), with their answers.
CALC_VALID = {"12 + 42": 54.0, "4.5 / -6": -0.75, "7 - 10": -3.0}


# -- datetime-client cases --------------------------------------------------------------------------


def requests_seen(run: Run) -> list[bytes]:
    if not run.datagrams:
        raise CaseFailed("no request arrived" + (" (the client never sent one)" if run.started else ""))
    return [data for _, data in run.datagrams]


@client_case("datetime-client.requests", "lab", "every request is SEND_DATE or SEND_TIME")
def dt_requests(run: Run, cfg: Config) -> None:
    for data in requests_seen(run):
        if data.strip() not in DATETIME_REQUESTS:
            raise CaseFailed(f"request {data!r} is neither SEND_DATE nor SEND_TIME")


def out_of_range(gap: float) -> bool:
    return not judge.gap_ok(gap, MIN_GAP - GAP_SLACK_LOW, MAX_GAP + GAP_SLACK_HIGH)


def gap_fault(times: list[float]) -> str | None:
    """What is wrong with the pauses between requests sent at ``times`` (seconds), or None."""
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    for i, gap in enumerate(gaps):
        if out_of_range(gap):
            return f"requests {i + 1} and {i + 2} came {gap:.2f} s apart, expected 1-2 s"
    if len(times) < MIN_REQUESTS:
        return f"expected at least {MIN_REQUESTS} requests to judge the gaps, got {len(times)}"
    longer = sum(gap > VARIED_ABOVE for gap in gaps)
    if longer < VARIED_GAPS:
        shown = ", ".join(f"{gap:.2f}" for gap in gaps[:8]) + (" ..." if len(gaps) > 8 else "")
        return (
            f"the pause does not vary between 1 and 2 s: {longer} of {len(gaps)} gaps are over {VARIED_ABOVE:g} s, "
            f"expected at least {VARIED_GAPS} (gaps: {shown})"
        )
    return None


def settled(run: Run) -> bool:
    """Whether the lab verdicts on the requests can no longer change: both kinds seen, and the gaps
    either already wrong or shown to vary. Until then the client is recorded (at most DATETIME_DURATION)."""
    if not {data.strip() for _, data in run.datagrams} >= DATETIME_REQUESTS:
        return False
    times = [t for t, _ in run.datagrams]
    return gap_fault(times) is None or any(out_of_range(b - a) for a, b in zip(times, times[1:], strict=False))


@client_case("datetime-client.gaps", "lab", "successive requests are 1-2 s apart, and the pause varies")
def dt_gaps(run: Run, cfg: Config) -> None:
    fault = gap_fault([t for t, _ in run.datagrams])
    if fault:
        raise CaseFailed(fault)


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


def forwarded(run: Run) -> list[str]:
    """The typed requests the client sent (a request sent in place of the name counts too)."""
    sent = [judge.calc_request(line) for line in calc_lines(run)]
    return [typed for typed in CALC_VALID if judge.calc_request(typed) in sent]


@client_case("calc-client.forwards-requests", "lab", "every well-formed typed request is sent", needs_cmd=True)
def calc_forwards(run: Run, cfg: Config) -> None:
    missing = [typed for typed in CALC_VALID if typed not in forwarded(run)]
    if missing:
        raise CaseFailed(f"the typed request {missing[0]!r} was never sent")


@client_case("calc-client.prints-answers", "lab", "the client prints the answer to each request", needs_cmd=True)
def calc_prints(run: Run, cfg: Config) -> None:
    sent = forwarded(run)  # a request never sent has no answer to print: that is forwards-requests' fault
    if not sent:
        raise CaseFailed("no typed request was sent, so no answer could be printed")
    for typed in sent:
        value = CALC_VALID[typed]
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


@client_case("calc-client.exact-lines", "strict", "name, requests and q sent exactly as given, each with LF")
def calc_exact(run: Run, cfg: Config) -> None:
    lines = calc_lines(run)
    if run.unterminated:
        raise CaseFailed(f"the line {run.unterminated[0]!r} was sent without a line end (LF)")
    if run.started and lines and lines[0] != cfg.name:
        raise CaseFailed(f"expected the name {cfg.name!r} as the first line, got {lines[0]!r}")
    for line in lines[1:]:
        # Malformed lines are calc-client.no-malformed-lines' fault; here only the form of good ones counts.
        request = judge.calc_request(line)
        if request is not None and line not in CALC_VALID and request in map(judge.calc_request, CALC_VALID):
            raise CaseFailed(f"the request {line!r} was not sent exactly as typed")
        if line.strip() == "q" and line != "q":
            raise CaseFailed(f"'q' was sent as {line!r}")


@client_case(
    "calc-client.eof-quits",
    "strict",
    "end of input without 'q' still sends 'q' and exits",
    needs_cmd=True,
    on_eof_run=True,
)
def calc_eof(run: Run, cfg: Config) -> None:
    quits_last(run)


# -- running ----------------------------------------------------------------------------------------

DATETIME_CASES = [dt_requests, dt_gaps, dt_mix, dt_prints, dt_exact]
CALC_CASES = [calc_name_first, calc_no_malformed, calc_forwards, calc_prints, calc_q, calc_exact, calc_eof]
CASES = {"datetime-client": DATETIME_CASES, "calc-client": CALC_CASES}


def record_datetime_run(cfg: Config, eof_run: bool) -> Run:
    return record_datetime(cfg, cfg.duration or DATETIME_DURATION, settled)


RECORDERS: dict[str, Recorder] = {"datetime-client": record_datetime_run, "calc-client": record_calc_runs}


def run_client_checks(role: str, cfg: Config) -> list[CaseResult]:
    return judge_run(cases_for(role, cfg.level), cfg, RECORDERS[role])  # type: ignore[arg-type]
