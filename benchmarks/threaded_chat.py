"""The baseline: a chat room written the way the course's multi-threaded skeleton suggests.

This is deliberately *not* how socklab's own chat server works. It follows the
StackOverflow answer the lab points to (https://stackoverflow.com/a/40351010):
a ``ThreadedServer`` whose ``listen`` loop starts one thread per client, each
thread blocking in ``recv`` with a 60 s timeout, a shared list of members under
one lock, and every broadcast done in the *sender's* thread with a blocking
``sendall`` to each other member while holding that lock. It speaks the socklab
chat protocol (docs/protocols.md), so the benchmark drives it exactly like the
real server, and it keeps the skeleton's other choices: ``listen(5)``, no
TCP_NODELAY (Nagle on), default socket buffers.

What the benchmark shows about this design:

* one member that stops reading fills its socket buffer; the next ``sendall``
  to it blocks while holding the lock, so every other sender blocks too and the
  whole room stalls (until the 60 s timeout drops the slow member);
* a thread per member costs a stack and a context switch per delivery.

Run: ``python3 -m benchmarks.threaded_chat [--host H] [--port P]``.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import socket
import sys
import threading
import time

PROGRAM = "threaded-chat"
LISTEN_BACKLOG = 5  # the skeleton's listen(5)
CLIENT_TIMEOUT = 60  # the skeleton's client.settimeout(60)
NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
RESERVED = "server"


class ThreadedServer:
    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.lock = threading.Lock()
        self.members: list[tuple[socket.socket, str]] = []

    def listen(self) -> None:
        self.sock.listen(LISTEN_BACKLOG)
        host, port = self.sock.getsockname()
        print(f"{PROGRAM} listening on {host}:{port}/tcp", flush=True)
        while True:
            client, address = self.sock.accept()
            client.settimeout(CLIENT_TIMEOUT)
            threading.Thread(target=self.listen_to_client, args=(client, address), daemon=True).start()

    def broadcast(self, line: str, skip: socket.socket | None = None) -> None:
        """Send to every member but ``skip``, in the caller's thread, holding the lock."""
        data = (line + "\n").encode()
        with self.lock:
            for conn, _ in self.members:
                if conn is not skip:
                    with contextlib.suppress(OSError):  # its own thread notices and removes it
                        conn.sendall(data)

    def login(self, conn: socket.socket, reader) -> str | None:
        """Read names until one is accepted; the join notice goes out under the same lock."""
        while True:
            raw = reader.readline()
            if not raw:
                return None
            name = raw.decode("utf-8", "replace").strip()
            with self.lock:
                reason = self.refusal(name)
                if reason is None:
                    self.members.append((conn, name))
                    count = len(self.members)
                    notice = f"Server: time={time.strftime('%H:%M:%S')} {name} has joined. Member count={count}"
            if reason is not None:
                conn.sendall(f"ERROR {reason}\n".encode())
                continue
            self.broadcast(notice)
            return name

    def refusal(self, name: str) -> str | None:
        if not NAME_RE.fullmatch(name):
            return f"invalid name '{name}': use 1-32 letters, digits, _ - ."
        if name.lower() == RESERVED:
            return f"name '{name}' is reserved"
        if any(n.lower() == name.lower() for _, n in self.members):
            return f"name '{name}' is taken"
        return None

    def listen_to_client(self, conn: socket.socket, address: tuple[str, int]) -> None:
        reader = conn.makefile("rb")
        name = None
        try:
            name = self.login(conn, reader)
            while name is not None:
                raw = reader.readline()
                if not raw:
                    break
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                if text == "quit":
                    break
                self.broadcast(f"{name}: {text}", skip=conn)
        except OSError:
            pass
        finally:
            self.leave(conn, name)

    def leave(self, conn: socket.socket, name: str | None) -> None:
        with self.lock:
            self.members = [(c, n) for c, n in self.members if c is not conn]
            count = len(self.members)
        if name is not None:
            self.broadcast(f"Server: time={time.strftime('%H:%M:%S')} {name} has left. Member count={count}")
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.threaded_chat", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        ThreadedServer(args.host, args.port).listen()
    return 0


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
