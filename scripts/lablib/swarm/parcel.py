"""What a grading task sends back to the manager through its log: a JSON document and a tar of files.

A Swarm task on another machine shares no folder with the manager, but the
manager can read any task's output (``docker service logs``), so the task
prints its parcel there::

    SOCKLAB-PARCEL 1 <sha256 of the payload> <payload bytes>
    <base64 of the payload, in lines of LINE_CHARS characters>
    SOCKLAB-PARCEL-END

The payload is a gzipped tar: ``parcel.json`` (the document) and the files
under ``files/``. Lines stay below Docker's 16 KiB log-line split, and the
hash and length catch a log that lost lines (a rotated or truncated log).
``unpack`` is sans-IO: text in, (document, files) or an error message out;
it never raises on bad input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

MAGIC = "SOCKLAB-PARCEL"
END = "SOCKLAB-PARCEL-END"
VERSION = "1"
#: Base64 characters per log line: well below the 16 KiB at which Docker splits a log line,
#: and long enough that reading 27 MB of log takes ~7 s (76-character lines took 62 s here).
LINE_CHARS = 8192
#: The largest payload a task sends (gzipped): past this the files are left out, the document kept.
MAX_PAYLOAD = 256 << 20
DOCUMENT = "parcel.json"
FILES = "files"


@dataclass(frozen=True)
class Unpacked:
    document: dict[str, Any]
    #: The tar of the files (members under ``files/`` only were accepted).
    tar: bytes


def payload(document: dict[str, Any], folder: Path | None) -> bytes:
    """The gzipped tar of ``document`` and ``folder``'s files (none when the tar would exceed MAX_PAYLOAD)."""
    raw = _tar(document, folder)
    if len(raw) > MAX_PAYLOAD:
        note = f"files left out: {len(raw)} bytes gzipped, more than the {MAX_PAYLOAD} a task sends back"
        raw = _tar({**document, "files_left_out": note}, None)
    return raw


def _tar(document: dict[str, Any], folder: Path | None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        data = json.dumps(document).encode()
        info = tarfile.TarInfo(DOCUMENT)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        if folder is not None and folder.is_dir():
            tar.add(folder, arcname=FILES, filter=_plain)
    return buffer.getvalue()


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Regular files and folders only, owned by nobody in particular."""
    if not (info.isfile() or info.isdir()):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def lines(raw: bytes) -> list[str]:
    """The parcel's log lines for a payload."""
    text = base64.b64encode(raw).decode()
    body = [text[i : i + LINE_CHARS] for i in range(0, len(text), LINE_CHARS)]
    return [f"{MAGIC} {VERSION} {hashlib.sha256(raw).hexdigest()} {len(raw)}", *body, END]


def unpack(log: str) -> Unpacked | str:
    """The last complete parcel in ``log`` (other lines are ignored), or why there is none."""
    rows = log.splitlines()
    starts = [i for i, row in enumerate(rows) if row.startswith(MAGIC + " ")]
    if not starts:
        return "no results in the task's output"
    start = starts[-1]
    head = rows[start].split()
    if len(head) != 4 or head[1] != VERSION or not head[3].isdigit():
        return f"an unknown results header: {rows[start][:80]!r}"
    try:
        end = rows.index(END, start)
    except ValueError:
        return "the task's results are cut short (no end line): it was stopped, or its log lost lines"
    try:
        raw = base64.b64decode("".join(rows[start + 1 : end]), validate=True)
    except (binascii.Error, ValueError):
        return "the task's results are garbled (not base64)"
    if len(raw) != int(head[3]) or hashlib.sha256(raw).hexdigest() != head[2]:
        return f"the task's results are damaged: {len(raw)} of {head[3]} bytes, or a wrong checksum"
    return _open(raw)


def _open(raw: bytes) -> Unpacked | str:
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
            member = tar.extractfile(DOCUMENT)
            document = json.loads(member.read()) if member else None
            bad = [m.name for m in tar.getmembers() if m.name != DOCUMENT and not _safe(m)]
    except (tarfile.TarError, OSError, ValueError, KeyError) as exc:
        return f"the task's results cannot be read: {exc}"
    if not isinstance(document, dict):
        return f"the task's results have no {DOCUMENT}"
    if bad:
        return f"the task's results hold unexpected entries: {', '.join(bad[:3])}"
    return Unpacked(document, raw)


def _safe(member: tarfile.TarInfo) -> bool:
    path = PurePosixPath(member.name)
    inside = path.parts[:1] == (FILES,) and ".." not in path.parts and not path.is_absolute()
    return inside and (member.isfile() or member.isdir())


def extract(unpacked: Unpacked, into: Path) -> list[str]:
    """Write the parcel's files (the tree under ``files/``) into ``into``; the relative paths written."""
    written = []
    with tarfile.open(fileobj=io.BytesIO(unpacked.tar), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.name == DOCUMENT or not _safe(member):
                continue
            relative = PurePosixPath(member.name).relative_to(FILES)
            target = into.joinpath(*relative.parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is not None:
                target.write_bytes(source.read())
                written.append(str(relative))
    return written
