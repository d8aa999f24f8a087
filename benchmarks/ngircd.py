"""ngircd, the C IRC server from Debian, as a peer: its configuration and command line.

The benchmark writes its own configuration into a temporary directory and
runs ``ngircd -n -f CONF`` in the foreground: loopback only, a free port, no
PAM, no ident or DNS look-ups (each would add a round trip to every login),
no connection limits, one pre-defined channel, pings far apart. Twice:

* stock: ngircd's flood control throttles a client that sends more than a few
  lines per second, so every client is kept at ``STOCK_CLIENT_RATE``;
* ``MaxPenaltyTime = 0``: penalties off (ngircd >= 26), so its relaying limit
  shows instead of its per-client throttle.

ngircd listens with a small backlog (``listen(fd, 10)``), so a thousand
simultaneous connects overflow it and wait for SYN retransmits: its join storm
is paced (``JOIN_PACING`` logins in flight at a time) and reported as such.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from benchmarks.dialects import IRC_CHANNEL

BINARY = "ngircd"
#: Messages per second one client may send to a stock ngircd without being throttled.
STOCK_CLIENT_RATE = 1.0
#: Logins not yet answered at once when joining ngircd: its listen backlog (10).
JOIN_PACING = 10
PING_SECONDS = 3600
MAX_NICK = 31

CONFIG = """\
# Written by the socklab benchmark; loopback only.
[Global]
Name = bench.socklab.test
Info = socklab benchmark peer
AdminInfo1 = socklab benchmark
AdminInfo2 = loopback only
AdminEMail = nobody@localhost
Listen = 127.0.0.1
Ports = {port}
PidFile = {dir}/ngircd.pid
MotdPhrase = socklab benchmark
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = {max_nick}
PingTimeout = {ping}
PongTimeout = {ping}
{penalty}
[Options]
PAM = no
Ident = no
DNS = no
IncludeDir = {dir}/conf.d
[Channel]
Name = {channel}
Topic = socklab benchmark
"""


def available() -> bool:
    return shutil.which(BINARY) is not None


def version() -> str | None:
    if not available():
        return None
    out = subprocess.run([BINARY, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"ngIRCd (\S+)", out)
    return m.group(1) if m else out.strip().splitlines()[0]


def supports_max_penalty_time(conf: Path) -> bool:
    """``ngircd --configtest`` lists MaxPenaltyTime in [LIMITS] if this version knows it (>= 26)."""
    out = subprocess.run([BINARY, "--configtest", "-f", str(conf)], capture_output=True, text=True).stdout
    return "MaxPenaltyTime" in out


def write_config(workdir: Path, port: int, *, penalties: bool) -> Path:
    (workdir / "conf.d").mkdir(parents=True, exist_ok=True)
    # ngircd drops root for 'nobody'; let it write its pid file there.
    os.chmod(workdir, 0o777)  # noqa: S103 - a private temp dir holding only this config
    conf = workdir / "ngircd.conf"
    conf.write_text(
        CONFIG.format(
            port=port,
            dir=workdir,
            max_nick=MAX_NICK,
            ping=PING_SECONDS,
            channel=IRC_CHANNEL,
            penalty="" if penalties else "MaxPenaltyTime = 0",
        )
    )
    if not penalties and not supports_max_penalty_time(conf):
        raise RuntimeError(f"this ngircd ({version()}) does not know MaxPenaltyTime (needs 26 or later)")
    return conf


def command(conf: Path) -> list[str]:
    return [BINARY, "-n", "-f", str(conf)]
