"""Start a program with lines already typed on its stdin, which then stays open (like a quiet keyboard).

    python3 feed.py LINES_JSON COMMAND...

For a menu-driven submission (``input("role? ")``, ``input("port? ")``): the
config's ``teams: {TEAM: {ROLE: {stdin: [...]}}}``. The lines go into a pipe
that becomes COMMAND's stdin; COMMAND itself holds the pipe's write end, so
reading past the lines waits (no end of file) for as long as it runs. No
process stays between: this one becomes COMMAND (exec), so its exit status
and signals are COMMAND's own. Standard library only: it runs on the student image.
"""

from __future__ import annotations

import json
import os
import sys

#: A pipe holds at least this much without a reader (Linux: 64 KiB); the config allows far less.
PIPE_BUFFER = 65536


def feed(lines: list[str], command: list[str]) -> None:
    data = "".join(f"{line}\n" for line in lines).encode()
    if len(data) > PIPE_BUFFER:
        raise SystemExit(f"feed.py: {len(data)} bytes of stdin lines: at most {PIPE_BUFFER}")
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.dup2(read_end, 0)
    os.close(read_end)
    os.set_inheritable(write_end, True)  # kept open by COMMAND: its stdin never ends
    os.execvp(command[0], command)


if __name__ == "__main__":
    feed(json.loads(sys.argv[1]), sys.argv[2:])
