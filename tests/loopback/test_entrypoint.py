"""``python3 -m services``: one entry point that lists and runs every program."""

from __future__ import annotations

from services.__main__ import PROGRAMS
from tests.helpers import Program


def test_help_lists_every_program() -> None:
    with Program("--help") as p:
        assert p.wait() == 0
    listed = {line.split()[0] for line in p.lines if line.startswith("  ")}
    assert listed == set(PROGRAMS)


def test_unknown_program_exits_2() -> None:
    with Program("no-such-program") as p:
        assert p.wait() == 2
    assert "unknown program 'no-such-program'" in p.output()


def test_program_help_shows_its_env_variables() -> None:
    with Program("datetime-client", "--help") as p:
        assert p.wait() == 0
    assert "--min-gap" in p.output()
    assert "SOCKLAB_" in p.output()
