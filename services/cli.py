"""Command-line and environment handling shared by every program.

Every flag has an environment variable that mirrors it: ``--max-members`` is
``SOCKLAB_MAX_MEMBERS``. The flag wins over the variable, the variable over the
built-in default. compose.yaml sets variables; people type flags; both reach
the same argparse defaults, so there is one source of truth.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Mapping

from services import roles

ENV_PREFIX = "SOCKLAB_"

#: Default ports, one per service, from the catalogue (UDP and TCP echo share a
#: number on different transports, as in the course's templates).
PORTS: dict[str, int] = {role.name.removesuffix("-server"): role.port for role in roles.SERVERS}

#: Servers listen on every interface: inside a container that is the
#: container's own address, which is what the lab network reaches.
SERVER_HOST = "0.0.0.0"

#: The signals that stop a server: SIGTERM from ``docker stop``, SIGINT from Ctrl-C.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def env_name(option: str) -> str:
    """``--max-members`` -> ``SOCKLAB_MAX_MEMBERS``."""
    return ENV_PREFIX + option.lstrip("-").replace("-", "_").upper()


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog=f"python3 -m services {prog}",
        description=description,
        epilog=f"Every --flag can also be set as {ENV_PREFIX}FLAG in the environment "
        f"(for example --port as {ENV_PREFIX}PORT).",
    )


def add_endpoint(parser: argparse.ArgumentParser, *, host: str, port: int) -> None:
    """--host/--port, with the service's defaults."""
    parser.add_argument("--host", default=host, help=f"address to use (default {host})")
    parser.add_argument("--port", type=int, default=port, help=f"port (default {port})")


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def apply_env(parser: argparse.ArgumentParser, environ: Mapping[str, str] | None = None) -> None:
    """Let SOCKLAB_* variables replace the defaults of the flags they mirror.

    Each value is converted and checked here, as the flag would be, so a bad
    value is reported under the variable's name rather than a flag nobody typed
    (argparse would also skip the ``choices`` check for a default).
    """
    environ = os.environ if environ is None else environ
    for action in parser._actions:
        longs = [s for s in action.option_strings if s.startswith("--")]
        if not longs or action.dest == "help":
            continue
        name = env_name(longs[0])
        value = environ.get(name)
        if value is not None:
            action.default = _env_value(parser, action, name, value)


def _env_value(parser: argparse.ArgumentParser, action: argparse.Action, name: str, value: str) -> object:
    if isinstance(action, argparse._StoreTrueAction):
        if value.lower() not in TRUE_WORDS | FALSE_WORDS:
            parser.error(f"{name}={value!r}: expected one of {sorted(TRUE_WORDS | FALSE_WORDS - {''})}")
        return value.lower() in TRUE_WORDS
    try:
        converted = action.type(value) if callable(action.type) else value
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        parser.error(f"{name}={value!r} is not a valid value for {action.option_strings[-1]}")
    if action.choices is not None and converted not in action.choices:
        parser.error(f"{name}={value!r}: choose from {', '.join(map(str, action.choices))}")
    return converted


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    apply_env(parser)
    return parser.parse_args(argv)


def exit_on_sigterm() -> None:
    """Turn SIGTERM (``docker stop``) into KeyboardInterrupt, so blocking programs unwind cleanly."""

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


async def run_until_signalled(signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> None:
    """Wait, inside a running asyncio server, until one of ``signals`` arrives; the caller then shuts down.

    The handlers stay installed, so a second Ctrl-C during the shutdown is
    ignored instead of interrupting it half-way.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def format_peer(address: object) -> str:
    """How servers name a client in their logs: ``IP:PORT``, or ``[IP]:PORT`` for IPv6."""
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(address)


def log(*parts: object) -> None:
    """One line to stdout, flushed at once so `docker logs` shows it live."""
    print(*parts, flush=True)


def fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return code
