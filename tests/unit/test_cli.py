"""services/cli.py: every --flag mirrored by a SOCKLAB_* variable; flag beats variable beats default."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

import pytest

from services.cli import add_endpoint, env_name, make_parser, parse, run_until_signalled


def parser() -> argparse.ArgumentParser:
    p = make_parser("demo", "demo program")
    add_endpoint(p, host="demo-server", port=12000)
    p.add_argument("--max-gap", type=float, default=2.0)
    p.add_argument("--request", choices=("SEND_DATE", "SEND_TIME"))
    p.add_argument("--verbose", action="store_true")
    return p


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "MAX_GAP", "REQUEST", "VERBOSE"):
        monkeypatch.delenv(f"SOCKLAB_{name}", raising=False)


def test_env_name() -> None:
    assert env_name("--max-members") == "SOCKLAB_MAX_MEMBERS"


def test_defaults_without_flags_or_env() -> None:
    args = parse(parser(), [])
    assert (args.host, args.port, args.max_gap, args.request, args.verbose) == ("demo-server", 12000, 2.0, None, False)


def test_env_beats_default_and_is_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCKLAB_PORT", "4242")
    monkeypatch.setenv("SOCKLAB_MAX_GAP", "0.5")
    monkeypatch.setenv("SOCKLAB_HOST", "10.0.0.1")
    args = parse(parser(), [])
    assert (args.host, args.port, args.max_gap) == ("10.0.0.1", 4242, 0.5)
    assert isinstance(args.port, int)


def test_flag_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCKLAB_PORT", "4242")
    assert parse(parser(), ["--port", "7"]).port == 7


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("true", True), ("YES", True), ("0", False), ("off", False)]
)
def test_store_true_from_env(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("SOCKLAB_VERBOSE", value)
    assert parse(parser(), []).verbose is expected


def test_store_true_flag_beats_false_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCKLAB_VERBOSE", "0")
    assert parse(parser(), ["--verbose"]).verbose is True


def test_choice_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCKLAB_REQUEST", "SEND_TIME")
    assert parse(parser(), []).request == "SEND_TIME"


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "abc"), ("MAX_GAP", "soon"), ("REQUEST", "SEND_WEATHER"), ("VERBOSE", "maybe")],
)
def test_bad_env_value_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv(f"SOCKLAB_{name}", value)
    with pytest.raises(SystemExit) as exc:
        parse(parser(), [])
    assert exc.value.code == 2
    assert f"SOCKLAB_{name}='{value}'" in capsys.readouterr().err


def test_bad_env_value_is_reported_even_when_the_flag_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    # A broken setting in compose.yaml should surface, not hide behind a flag that happens to be typed.
    monkeypatch.setenv("SOCKLAB_PORT", "abc")
    with pytest.raises(SystemExit):
        parse(parser(), ["--port", "1"])


def test_help_mentions_the_variables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(parser(), ["--help"])
    assert "SOCKLAB_PORT" in capsys.readouterr().out


def test_run_until_signalled_returns_when_the_signal_arrives() -> None:
    async def signal_once_waiting() -> None:
        waiting = asyncio.create_task(run_until_signalled((signal.SIGUSR1,)))
        await asyncio.sleep(0)  # let it install its handler
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.wait_for(waiting, timeout=10)  # a missed signal would end in TimeoutError

    asyncio.run(signal_once_waiting())
