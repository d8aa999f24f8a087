"""A child process whose output is read line by line on a thread, for the checker and the tests.

The checker starts a student's client and reads what it prints; the tests start
socklab's programs and the student fixtures and wait for lines such as
``listening on HOST:PORT``. Both need the same things: a pipe that is always
drained (a child that fills its pipe blocks), the lines so far, an optional
callback per line, a cap on what is kept, and a stop that ends in SIGKILL.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

#: Seconds a process gets to exit after SIGTERM before it is killed, and the reader to finish.
STOP_TIMEOUT = 3.0


class Process:
    """``argv`` as a child process; stdout (with stderr merged) collected in ``lines``.

    ``on_line`` is called on the reader thread with each kept line (without its
    line end); once ``limit`` characters are kept, later lines are read and
    dropped, and ``dropped`` counts them. ``stderr_apart``: stderr's lines go to
    ``err_lines`` instead (a test that tells a client's errors from its output).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        stdin: bool = False,
        on_line: Callable[[str], None] | None = None,
        limit: int | None = None,
        stderr_apart: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.lines: list[str] = []
        self.err_lines: list[str] = []
        self.dropped = 0
        self._on_line, self._limit, self._kept = on_line, limit, 0
        self.proc = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr_apart else subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._readers = [threading.Thread(target=self._read, daemon=True)]
        if stderr_apart:
            self._readers.append(threading.Thread(target=self._read_errors, daemon=True))
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.rstrip("\n")
            self._kept += len(raw)
            if self._limit is not None and self._kept > self._limit:
                self.dropped += 1
                continue
            self.lines.append(line)
            if self._on_line is not None:
                self._on_line(line)

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.err_lines.append(raw.rstrip("\n"))

    def output(self) -> str:
        errors = "\n[stderr]\n" + "\n".join(self.err_lines) if self.err_lines else ""
        return "\n".join(self.lines) + errors

    def write(self, text: str) -> None:
        """Write to the child's stdin (started with ``stdin=True``) and flush."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):  # the child may have exited already
            self.proc.stdin.close()

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        """The exit status; ``subprocess.TimeoutExpired`` if it is still running after ``timeout`` s."""
        return self.proc.wait(timeout)

    def wait_exit(self, timeout: float) -> int | None:
        """The exit status once it exits within ``timeout`` s, else None (still running)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM (SIGKILL after ``timeout`` s) unless it has exited; then read the rest of its output."""
        if self.proc.poll() is None:
            self.proc.terminate()
            if self.wait_exit(timeout) is None:
                self.proc.kill()
                self.proc.wait()
        self.join_readers(timeout)
        return self.proc.returncode

    def join_readers(self, timeout: float) -> None:
        """Wait up to ``timeout`` s per stream for the rest of the output (after the process exited)."""
        for reader in self._readers:
            reader.join(timeout)

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
