"""Every lab-level case is shown a wrong answer, and correct submissions written the course's way pass.

Each Slip fixture is Lab2_Good.py with one slip in several roles (marked SLIP in
the file); for each role it must fail exactly the case that names its slip, at the
lab level. Together they fail every lab case of every role, so no judge can be made
to accept everything without a test here failing. The Sophomore fixtures are
correct programs written as second-year students write them (no line ends, one
recv per message, a relay to every member, the course's notices and other date
forms): they pass every lab case.
"""

from __future__ import annotations

import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.check import ROLES, cases_for, run_checks
from tests.helpers import STUDENTS, Program, failed, not_run, student

PY = sys.executable
FAST = {"reply_timeout": 2.5}
SERVER_ROLES = ["udp-echo-server", "tcp-echo-server", "datetime-server", "calc-server", "chat-server"]
CASE_NAME = re.compile(r"`([\w-]+\.[\w-]+)`")  # a case name in backticks, e.g. `chat.relay`


def lab_faults(readme: Path = STUDENTS / "README.md") -> dict[tuple[str, str], set[str]]:
    """(fixture, role) -> the lab cases it fails, read from the fixtures' README table of expected
    verdicts (columns: file | role | lab | strict), so the table and this test cannot disagree."""
    faults = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("Lab2_"):
            cases = set(CASE_NAME.findall(cells[2]))
            if cases:
                faults[cells[0], cells[1]] = cases
    return faults


LAB_FAULTS = lab_faults()
SERVER_SLIPS = {(file, role): cases for (file, role), cases in LAB_FAULTS.items() if role in SERVER_ROLES}
CALC_CLIENT_SLIPS = {file: cases for (file, role), cases in LAB_FAULTS.items() if role == "calc-client"}
DATETIME_CLIENT_SLIPS = {file: cases for (file, role), cases in LAB_FAULTS.items() if role == "datetime-client"}
#: Long enough for a client whose pause is right to show it varies (3 gaps over 1.25 s: odds of
#: failing 1e-4); the slipped clients that never settle are cut off here.
DATETIME_CAP = 20.0


def client_cmd(file: str, role: str) -> str:
    """The fixtures' convention: ROLE HOST PORT, and the calculator client's NAME."""
    name = " {name}" if role == "calc-client" else ""
    return f"{PY} {STUDENTS / file} {role} {{host}} {{port}}{name}"


def test_every_lab_case_is_shown_a_wrong_answer() -> None:
    shown = set().union(*SERVER_SLIPS.values(), *CALC_CLIENT_SLIPS.values(), *DATETIME_CLIENT_SLIPS.values())
    lab_cases = {c.name for role in ROLES for c in cases_for(role, "lab")}
    assert shown == lab_cases


@pytest.mark.parametrize(("file", "role"), list(SERVER_SLIPS))
def test_a_server_slip_fails_exactly_its_case(file: str, role: str) -> None:
    with student(file, role) as port:
        lab = run_checks(role, "127.0.0.1", port, "lab", **FAST)
    assert failed(lab) == SERVER_SLIPS[file, role], [r.message for r in lab if not r.passed]
    assert not_run(lab) == set()


@pytest.mark.parametrize("file", list(CALC_CLIENT_SLIPS))
def test_a_calc_client_slip_fails_exactly_its_case(file: str) -> None:
    lab = run_checks("calc-client", "127.0.0.1", 0, "lab", cmd=client_cmd(file, "calc-client"))
    assert failed(lab) == CALC_CLIENT_SLIPS[file], [r.message for r in lab if not r.passed]


def test_a_datetime_client_slip_fails_exactly_its_case() -> None:
    """All four at once: each is recorded for up to DATETIME_CAP seconds."""
    with ThreadPoolExecutor(len(DATETIME_CLIENT_SLIPS)) as pool:
        runs = {
            file: pool.submit(
                run_checks,
                "datetime-client",
                "127.0.0.1",
                0,
                "lab",
                cmd=client_cmd(file, "datetime-client"),
                duration=DATETIME_CAP,
            )
            for file in DATETIME_CLIENT_SLIPS
        }
        verdicts = {file: failed(run.result()) for file, run in runs.items()}
    assert verdicts == DATETIME_CLIENT_SLIPS


def test_the_lab_datetime_client_takes_other_date_forms_as_answers() -> None:
    """Lab2_Good's server writes the date as 28-11-2026: the lab's client must not call it lost."""
    with student("Lab2_Good.py", "datetime-server") as port:
        args = ["--host", "127.0.0.1", "--port", str(port), "--count", "2", "--min-gap", "0", "--max-gap", "0"]
        with Program("datetime-client", *args, "--request", "SEND_DATE") as client:
            assert client.wait(15) == 0
    assert client.lines[-1] == "sent 2, answered 2, lost 0", client.output()


SOPHOMORES = ["Lab2_Sophomore.py", "Lab2_Sophomore2.py"]


@pytest.mark.parametrize("role", SERVER_ROLES)
@pytest.mark.parametrize("file", SOPHOMORES)
def test_a_correct_server_written_like_the_templates_passes_the_lab_level(file: str, role: str) -> None:
    with student(file, role) as port:
        lab = run_checks(role, "127.0.0.1", port, "lab", **FAST)
    assert failed(lab) == set() and not_run(lab) == set(), [r.message for r in lab if not r.passed]


@pytest.mark.parametrize("file", SOPHOMORES)
def test_a_correct_calc_client_written_like_the_templates_passes_the_lab_level(file: str) -> None:
    lab = run_checks("calc-client", "127.0.0.1", 0, "lab", cmd=client_cmd(file, "calc-client"))
    assert failed(lab) == set(), [r.message for r in lab if not r.passed]
    strict = run_checks("calc-client", "127.0.0.1", 0, "strict", cmd=client_cmd(file, "calc-client"))
    # Its lines have no LF: a framing fault, which only the strict level judges.
    assert "calc-client.exact-lines" in failed(strict)


def test_correct_datetime_clients_written_like_the_templates_pass_the_lab_level() -> None:
    """They pick requests at random: recorded until both kinds came (at most the checker's 50 s)."""
    with ThreadPoolExecutor(len(SOPHOMORES)) as pool:
        runs = [
            pool.submit(run_checks, "datetime-client", "127.0.0.1", 0, "lab", cmd=client_cmd(f, "datetime-client"))
            for f in SOPHOMORES
        ]
        assert [failed(run.result()) for run in runs] == [set(), set()]
