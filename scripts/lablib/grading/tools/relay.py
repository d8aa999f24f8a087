"""In a client role's sandbox: start the client per connection, its stdin/stdout/stderr the connection.

    python3 relay.py PORT COMMAND...

Each connection first sends one line ``host port name``; those fill ``{host}``,
``{port}`` and ``{name}`` in COMMAND, which then runs with the connection as
its stdio (so the checker can script it). A new connection ends the previous
client. Standard library only: it runs on the student image.
"""

from __future__ import annotations

import socket
import subprocess
import sys

#: Longest head line (``host port name``) accepted.
MAX_HEAD = 1024
BACKLOG = 4


def read_head(conn: socket.socket) -> tuple[str, str, str]:
    """The ``host port name`` line, byte by byte so nothing of the client's stdin is consumed."""
    head = b""
    while not head.endswith(b"\n") and len(head) < MAX_HEAD:
        byte = conn.recv(1)
        if not byte:
            break
        head += byte
    host, port, name = (head.decode("utf-8", "replace").split() + ["", "", ""])[:3]
    return host, port, name


def fill(command: list[str], host: str, port: str, name: str) -> list[str]:
    return [a.replace("{host}", host).replace("{port}", port).replace("{name}", name) for a in command]


def serve(port: int, command: list[str]) -> None:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(BACKLOG)
    proc: subprocess.Popen[bytes] | None = None
    while True:
        conn, _ = srv.accept()
        argv = fill(command, *read_head(conn))
        if proc is not None and proc.poll() is None:
            proc.kill()
        print("relay: starting", argv, flush=True)
        proc = subprocess.Popen(argv, stdin=conn.fileno(), stdout=conn.fileno(), stderr=subprocess.STDOUT)
        conn.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
