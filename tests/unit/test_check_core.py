"""The checker's case registry and transcript rendering (no sockets)."""

from __future__ import annotations

import pytest

from services import roles
from services.check import CLIENT_ROLES, ROLES, cases_for
from services.check.core import ClientCase, ServerCase
from services.check.session import show

PREFIX = {
    "udp-echo-server": "udp-echo.",
    "tcp-echo-server": "tcp-echo.",
    "datetime-server": "datetime.",
    "calc-server": "calc.",
    "chat-server": "chat.",
    "datetime-client": "datetime-client.",
    "calc-client": "calc-client.",
}


@pytest.mark.parametrize("role", ROLES)
def test_strict_runs_every_lab_case_first_and_names_are_unique(role: str) -> None:
    lab, strict = cases_for(role, "lab"), cases_for(role, "strict")
    assert [c.name for c in strict[: len(lab)]] == [c.name for c in lab]
    assert all(c.level == "strict" for c in strict[len(lab) :])
    names = [c.name for c in strict]
    assert len(set(names)) == len(names)
    assert all(name.startswith(PREFIX[role]) for name in names)
    assert all(c.doc and c.limit > 0 for c in strict)


def test_client_roles_are_roles() -> None:
    assert set(CLIENT_ROLES) < set(ROLES)


@pytest.mark.parametrize("role", ["calc-server", "chat-server"])
def test_bad_input_cases_come_last(role: str) -> None:
    names = [c.name for c in cases_for(role, "strict")]
    assert names[-2:] == [f"{PREFIX[role]}invalid-utf8", f"{PREFIX[role]}over-long-line"]


@pytest.mark.parametrize(("level", "role"), [("lenient", "calc-server"), ("lab", "calc")])
def test_unknown_level_or_role_is_refused(level: str, role: str) -> None:
    with pytest.raises(ValueError):
        cases_for(role, level)


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (b"12 + 42\n", "'12 + 42\\n'"),
        ("SEND_TIME\r\n", "'SEND_TIME\\r\\n'"),
        (b"caf\xc3 \xff", "'caf\\xc3 \\xff'"),
        (b"bell\x07", "'bell\\x07'"),
        (b"x" * 200, "'" + "x" * 160 + "' ... (200 bytes)"),
    ],
)
def test_show_makes_bytes_readable(data: bytes | str, shown: str) -> None:
    assert show(data) == shown


@pytest.mark.parametrize("role", ROLES)
def test_cases_know_whether_they_judge_a_server_or_a_client(role: str) -> None:
    kind = ClientCase if roles.get(role).is_client else ServerCase
    assert all(isinstance(c, kind) for c in cases_for(role, "strict"))


def test_role_tables_follow_the_catalogue() -> None:
    assert tuple(r.name for r in roles.CHECKED) == ROLES
    assert set(CLIENT_ROLES) == {r.name for r in roles.CHECKED if r.is_client}
