"""services.check.process.Process: the one child-process-with-reader helper of the checker and the tests."""

from __future__ import annotations

import sys
import time

from services.check.process import Process
from tests.helpers import wait_for

PY = sys.executable


def test_lines_are_collected_and_passed_to_the_callback() -> None:
    seen: list[str] = []
    with Process([PY, "-c", "print('one'); print('two', flush=True)"], on_line=seen.append) as proc:
        assert proc.wait(10) == 0
    assert proc.lines == ["one", "two"] and seen == ["one", "two"]


def test_stdin_is_written_and_closed() -> None:
    with Process([PY, "-c", "import sys; print(sys.stdin.read().upper())"], stdin=True) as proc:
        proc.write("hello\n")
        proc.close_stdin()
        assert proc.wait(10) == 0
    assert proc.lines[0] == "HELLO"


def test_output_past_the_limit_is_drained_and_dropped() -> None:
    # 2000 lines of 100 characters: far more than the limit, and more than a pipe holds.
    code = "import sys\nfor i in range(2000): print(str(i).rjust(99))"
    with Process([PY, "-c", code], limit=1000) as proc:
        assert proc.wait(10) == 0  # the child was never blocked on a full pipe
    proc.stop()
    assert len(proc.lines) == 10 and proc.dropped == 1990


def test_stop_ends_a_process_that_ignores_sigterm() -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    proc = Process([PY, "-c", code])
    wait_for(lambda: proc.lines == ["up"], 10, what="the child to start")
    assert proc.wait_exit(0.1) is None
    start = time.monotonic()
    assert proc.stop(timeout=0.5) == -9
    assert time.monotonic() - start < 10
