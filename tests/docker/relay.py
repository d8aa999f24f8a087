"""A plain line relay, run by the docker tests in a client container (mounted read-only, see lab.Lab.relay).

stdin lines go to the server, the server's lines come out on stdout. Tests use it to speak a
protocol exactly (the real client programs add prompts and formatting) while still from the
client's own host. Usage: python3 relay.py HOST PORT
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading

CONNECT_TIMEOUT = 10.0


def pump(sock: socket.socket) -> None:
    """stdin to the server; half-close once stdin ends."""
    for line in sys.stdin.buffer:
        sock.sendall(line)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def main() -> None:
    sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=CONNECT_TIMEOUT)
    sock.settimeout(None)
    ip, port = sock.getsockname()[:2]
    print(f"#relay connected {ip}:{port}", flush=True)
    threading.Thread(target=pump, args=(sock,), daemon=True).start()
    try:
        for line in sock.makefile("rb"):
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
        print("#relay closed", flush=True)
    except OSError as exc:
        print(f"#relay error {exc}", flush=True)
    os._exit(0)  # the stdin thread may still block in read(): don't wait for it at interpreter shutdown


if __name__ == "__main__":
    main()
