"""The checker against real programs: socklab's reference programs pass every case at both levels,
and each broken student fixture fails exactly the cases that name its fault.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.check import run_checks
from tests.fixtures.make_similar import FAMILY
from tests.helpers import ROOT, STUDENTS, Program, failed, not_run, student

SERVER_ROLES = ["udp-echo-server", "tcp-echo-server", "datetime-server", "calc-server", "chat-server"]
#: Short waits keep the suite fast: loopback replies take microseconds.
FAST = {"reply_timeout": 2.5}  # generous: a loaded CI machine may pause a reply for a second
PY = sys.executable


@pytest.mark.parametrize("level", ["lab", "strict"])
@pytest.mark.parametrize("role", SERVER_ROLES)
def test_reference_servers_pass_every_case(role: str, level: str) -> None:
    with Program(role, "--host", "127.0.0.1", "--port", "0") as server:
        results = run_checks(role, "127.0.0.1", server.listening_port(), level, **FAST)
    assert results and failed(results) == set() and not_run(results) == set(), [r.message for r in results]


def test_reference_calc_client_passes_every_case() -> None:
    cmd = f"{PY} -m services calc-client --host {{host}} --port {{port}} --name {{name}}"
    results = run_checks("calc-client", "127.0.0.1", 0, "strict", cmd=cmd)
    assert len(results) == 7 and failed(results) == set(), [r.message for r in results]


# The reference datetime-client picks its requests at random; seeding its generator makes the mix certain.
SEEDED_REFERENCE = (
    f'{PY} -c "import random, sys; R = random.Random; random.Random = lambda *a: R(1); '
    'from services.__main__ import main; sys.exit(main(sys.argv[1:]))" '
    "datetime-client --host {host} --port {port}"
)


def test_datetime_clients_reference_and_good_pass_every_case() -> None:
    """Both in parallel: each is recorded until its gaps are seen to vary (a few requests 1-2 s apart)."""
    good = f"{PY} {STUDENTS / 'Lab2_Good.py'} datetime-client {{host}} {{port}}"
    with ThreadPoolExecutor(2) as pool:
        runs = [
            pool.submit(run_checks, "datetime-client", "127.0.0.1", 0, "strict", cmd=cmd)
            for cmd in (SEEDED_REFERENCE, good)
        ]
        for run in runs:
            results = run.result()
            assert len(results) == 5 and failed(results) == set(), [r.message for r in results]


@pytest.mark.parametrize("role", SERVER_ROLES)
def test_good_fixture_fails_only_the_date_format_at_strict(role: str) -> None:
    with student("Lab2_Good.py", role) as port:
        lab = run_checks(role, "127.0.0.1", port, "lab", **FAST)
        strict = run_checks(role, "127.0.0.1", port, "strict", **FAST)
    assert failed(lab) == set(), [r.message for r in lab]
    assert failed(strict) == ({"datetime.date-format"} if role == "datetime-server" else set())
    assert not_run(strict) == set()


@pytest.mark.parametrize(
    ("file", "role", "lab_faults", "strict_faults"),
    [
        ("Lab2_FloatArtefacts.py", "calc-server", set(), {"calc.no-float-artefacts"}),
        # The course says lines are broadcast to all clients: an echo to the sender is only a strict fault.
        ("Lab2_ChatSelfEcho.py", "chat-server", set(), {"chat.no-self-echo"}),
        (
            "Lab2_OneAtATime.py",
            "calc-server",
            {"calc.concurrent-sessions"},
            {"calc.concurrent-sessions", "calc.many-clients"},
        ),
        ("Lab2_DiesOnMalformed.py", "calc-server", set(), {"calc.malformed-line"}),
    ],
)
def test_broken_server_fixture_fails_exactly_its_cases(
    file: str, role: str, lab_faults: set[str], strict_faults: set[str]
) -> None:
    with student(file, role) as port:
        lab = run_checks(role, "127.0.0.1", port, "lab", **FAST)
        strict = run_checks(role, "127.0.0.1", port, "strict", **FAST)
    assert failed(lab) == lab_faults, [r.message for r in lab if not r.passed]
    assert failed(strict) == strict_faults, [r.message for r in strict if not r.passed]


def test_server_that_dies_is_charged_for_the_case_that_killed_it() -> None:
    with student("Lab2_DiesOnMalformed.py", "calc-server") as port:
        results = run_checks("calc-server", "127.0.0.1", port, "strict", **FAST)
    by_name = {r.name: r for r in results}
    assert "server stopped answering" in by_name["calc.malformed-line"].message
    assert not_run(results) == {
        "calc.division-by-zero",
        "calc.non-finite",
        "calc.invalid-utf8",
        "calc.over-long-line",
    }
    assert all(r.message == "not run: server stopped answering after calc.malformed-line" for r in results if not r.ran)


@pytest.mark.parametrize(
    ("file", "faults"),
    [("Lab2_Good.py", set()), ("Lab2_SendsMalformed.py", {"calc-client.no-malformed-lines"})],
)
@pytest.mark.parametrize("level", ["lab", "strict"])
def test_calc_client_fixtures(file: str, faults: set[str], level: str) -> None:
    cmd = f"{PY} {STUDENTS / file} calc-client {{host}} {{port}} {{name}}"
    results = run_checks("calc-client", "127.0.0.1", 0, level, cmd=cmd)
    assert failed(results) == faults, [r.message for r in results if not r.passed]


def check_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "services", "check", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_cli_reports_each_case_and_exits_nonzero_on_failure() -> None:
    with student("Lab2_FloatArtefacts.py", "calc-server") as port:
        ok = check_cli("calc-server", "--host", "127.0.0.1", "--port", str(port))
        bad = check_cli("calc-server", "--host", "127.0.0.1", "--port", str(port), "--level", "strict", "--json")
    assert ok.returncode == 0, ok.stdout
    assert re.search(r"^PASS calc\.arithmetic +\[lab\]", ok.stdout, re.M)
    assert bad.returncode == 1
    doc = json.loads(bad.stdout)
    assert (doc["role"], doc["level"], doc["passed"]) == ("calc-server", "strict", False)
    (case,) = [c for c in doc["cases"] if not c["passed"]]
    assert case["name"] == "calc.no-float-artefacts"
    assert "'0.30000000000000004'" in case["message"] and "binary floating-point artefact" in case["message"]
    sent = [e for e in case["transcript"] if e["kind"] == "send"]
    assert sent[-1]["data"] == "'0.1 + 0.2\\n'" and isinstance(sent[-1]["t_ms"], float)


def test_cli_says_nothing_answers_when_no_server_listens() -> None:
    with student("Lab2_Good.py", "calc-server") as port:
        pass  # the server is gone: the port is closed
    done = check_cli("calc-server", "--host", "127.0.0.1", "--port", str(port))
    assert done.returncode == 1
    assert re.search(r"^SKIP calc\.arithmetic", done.stdout, re.M)
    assert f"nothing answers at 127.0.0.1:{port}" in done.stdout


def test_cli_lists_cases() -> None:
    done = check_cli("chat-server", "--list", "--level", "strict")
    assert done.returncode == 0
    assert re.search(r"^chat\.relay +\[lab\]", done.stdout, re.M)
    assert re.search(r"^chat\.no-self-echo +\[strict\]", done.stdout, re.M)
    assert re.search(r"^chat\.slow-reader +\[strict\]", done.stdout, re.M)


def test_fixtures_are_single_files() -> None:
    family = [p.name for p in FAMILY]  # Lab2_Good.py and its one-fault copies
    assert sorted(p.name for p in Path(STUDENTS).glob("*.py")) == [
        *family,
        "Lab2_SlipA.py",
        "Lab2_SlipB.py",
        "Lab2_SlipC.py",
        "Lab2_SlipD.py",
        "Lab2_Sophomore.py",
        "Lab2_Sophomore2.py",
    ]
