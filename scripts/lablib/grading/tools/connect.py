"""The checker's ``--cmd`` for a client role: connect to the relay, then be the client's stdio.

    python3 connect.py RELAY_HOST RELAY_PORT HOST PORT NAME [LINE...]

Sends ``HOST PORT NAME`` to the relay in the client's sandbox, then the LINEs
(a menu-driven client's answers, from the config's ``teams:``), then copies
this process's stdin to the connection and the connection to stdout until it closes.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

#: Seconds to keep trying while the relay starts.
CONNECT_TIMEOUT = 10.0
CONNECT_RETRY = 0.1
CHUNK = 65536
#: The checker judges as soon as its --cmd exits, and its reader of our stdout may not
#: have caught up yet (seen under load: the client's last answers missing): linger this long.
LINGER = 0.5


def connect(host: str, port: int) -> socket.socket:
    end = time.monotonic() + CONNECT_TIMEOUT
    while True:
        try:
            return socket.create_connection((host, port), timeout=2)
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(CONNECT_RETRY)


def pump_stdin(sock: socket.socket) -> None:
    for data in iter(lambda: os.read(0, CHUNK), b""):
        sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)


def main(argv: list[str]) -> None:
    sock = connect(argv[0], int(argv[1]))
    sock.settimeout(None)
    sock.sendall((" ".join(argv[2:5]) + "\n").encode())
    sock.sendall("".join(f"{line}\n" for line in argv[5:]).encode())
    threading.Thread(target=pump_stdin, args=(sock,), daemon=True).start()
    for data in iter(lambda: sock.recv(CHUNK), b""):
        os.write(1, data)
    time.sleep(LINGER)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
