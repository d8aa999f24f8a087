"""Cases for the client roles: each judges one recorded run of the student's client (see ``clients.py``).

datetime-client (lab): only ``SEND_DATE``/``SEND_TIME`` requests, 1-2 s apart,
both kinds sent, and (with ``--cmd``) each reply printed. strict: the request
datagrams are exactly the 9 bytes.

calc-client (lab): the name first, never a malformed line, the typed requests
forwarded, answers printed, ``q`` forwarded and the client gone. strict: the
lines exactly as typed, and end of input acts as ``q``.
"""

from __future__ import annotations

from services.check import judge
from services.check.clients import Recorder, Run, judge_run, record_calc_runs, record_datetime_run
from services.check.core import CaseResult, Config, cases_for, client_case
from services.check.session import CaseFailed

MIN_GAP, MAX_GAP = 1.0, 2.0
#: Slack on the 1-2 s gaps: scheduling jitter early, printing and a round trip late.
GAP_SLACK_LOW, GAP_SLACK_HIGH = 0.1, 0.3
MIN_REQUESTS = 3
DATETIME_REQUESTS = {b"SEND_DATE", b"SEND_TIME"}
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
RECORDERS: dict[str, Recorder] = {"datetime-client": record_datetime_run, "calc-client": record_calc_runs}


def run_client_checks(role: str, cfg: Config) -> list[CaseResult]:
    return judge_run(cases_for(role, cfg.level), cfg, RECORDERS[role])  # type: ignore[arg-type]
