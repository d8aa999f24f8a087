"""What a grade --swarm task sends back through its log: the parcel, and the team's result as JSON."""

from __future__ import annotations

import base64
import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

from services.check.core import CaseResult
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib.grading.config import Config, load_config  # noqa: E402
from lablib.grading.results import RoleResult, TeamResult, verdicts  # noqa: E402
from lablib.grading.submissions import Submission  # noqa: E402
from lablib.swarm import parcel, teamdoc  # noqa: E402

CONFIG = """
parts:
  calc:
    calc-server: {run: "python3 {file} calc-server {port}"}
    calc-client: {run: "python3 {file} calc-client {host} {port} {name}"}
"""


def team_files(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "Ada" / "logs").mkdir(parents=True)
    (out / "Ada" / "calc-server.pcap").write_bytes(bytes(range(256)) * 40)
    (out / "Ada" / "logs" / "calc-server.log").write_text("listening\n")
    return out


def log_of(document: dict, folder: Path | None, around: tuple[str, str] = ("", "")) -> str:
    lines = parcel.lines(parcel.payload(document, folder))
    return "\n".join(filter(None, [around[0], *lines, around[1]])) + "\n"


def test_a_parcel_comes_back_whole_among_other_log_lines(tmp_path: Path) -> None:
    doc = {"node": "lab-pc-2", "roles": [{"role": "calc-server", "status": "ok"}]}
    log = log_of(doc, team_files(tmp_path), ("a line before", "Traceback after"))
    unpacked = parcel.unpack(log)
    assert isinstance(unpacked, parcel.Unpacked), unpacked
    assert unpacked.document == doc
    written = parcel.extract(unpacked, tmp_path / "back")
    assert sorted(written) == ["Ada/calc-server.pcap", "Ada/logs/calc-server.log"]
    assert (tmp_path / "back" / "Ada" / "calc-server.pcap").read_bytes() == bytes(range(256)) * 40


def test_log_lines_stay_below_dockers_split() -> None:
    lines = parcel.lines(bytes(range(256)) * 100_000)
    assert max(len(line) for line in lines) == parcel.LINE_CHARS < 16 * 1024


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda rows: [r for r in rows if not r.startswith(parcel.MAGIC)], "no results in the task's output"),
        (lambda rows: rows[:-2], "cut short (no end line)"),
        (lambda rows: [rows[0], *rows[2:]], "damaged"),
        (lambda rows: [rows[0], "not base64 !", *rows[2:]], "garbled"),
        (lambda rows: [rows[0].replace(" 1 ", " 9 ", 1), *rows[1:]], "unknown results header"),
    ],
)
def test_a_damaged_log_gives_a_reason_not_an_exception(tmp_path: Path, damage, message: str) -> None:
    rows = log_of({"node": "n"}, team_files(tmp_path)).splitlines()
    found = parcel.unpack("\n".join(damage(rows)))
    assert isinstance(found, str) and message in found, found


def hostile_tar(name: str) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member, data in ((parcel.DOCUMENT, b"{}"), (name, b"x")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return "\n".join(parcel.lines(buffer.getvalue()))


@pytest.mark.parametrize("name", ["../../etc/cron.d/x", "/etc/passwd", "files/../../x", "elsewhere/x"])
def test_entries_outside_the_files_folder_are_refused(name: str) -> None:
    found = parcel.unpack(hostile_tar(name))
    assert isinstance(found, str) and "unexpected entries" in found, found


def test_too_many_files_are_left_out_and_said_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parcel, "MAX_PAYLOAD", 200)
    unpacked = parcel.unpack(log_of({"node": "n"}, team_files(tmp_path)))
    assert isinstance(unpacked, parcel.Unpacked)
    assert unpacked.document["files_left_out"].startswith("files left out:")
    assert parcel.extract(unpacked, tmp_path / "back") == []


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "grading.yaml"
    path.write_text(CONFIG)
    return load_config(path)


def graded_team(config: Config, sub: Submission) -> TeamResult:
    server, client = config.roles
    ok = CaseResult("calc.arithmetic", "lab", True, "", [{"send": "1 + 1", "got": "2"}], ms=3.5)
    bad = CaseResult("calc-client.no-malformed-lines", "lab", False, "sent 'x'", ran=True)
    roles = [
        RoleResult(server, cases=[ok], problems=["ran out of memory"], output="out", pcap="calc-server.pcap"),
        RoleResult(client, status="exited (status 1)", cases=[bad], check_seconds=1.25),
    ]
    return TeamResult(sub, roles=roles, error="", seconds=12.5, parts=config.parts)


def test_a_team_result_crosses_as_json_unchanged(config: Config, tmp_path: Path) -> None:
    sub = Submission("Ada", "Ada", tmp_path / "Lab2_Ada.py", "/submission/Lab2_Ada.py", name="Ada")
    team = graded_team(config, sub)
    doc = json.loads(json.dumps(teamdoc.to_document(team)))
    back = teamdoc.from_document(doc, sub, config)
    assert back == team
    assert verdicts([back]) == verdicts([team])


def test_the_submission_crosses_without_its_manager_path(tmp_path: Path) -> None:
    sub = Submission("Ada", "Ada", tmp_path / "Lab2_Ada.py", "/submission/Lab2_Ada.py", name="Ada")
    fields = teamdoc.submission_fields(sub)
    assert str(tmp_path) not in json.dumps(fields)
    node_path = Path("/var/tmp/x/input/submission") / fields.pop("path_name")
    assert Submission(**fields, path=node_path) == Submission("Ada", "Ada", node_path, sub.file, name="Ada")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["roles"][0].update(role="tcp-echo-server"), "a role the config does not have"),
        (lambda d: d["roles"].pop(), "not the config's"),
        (lambda d: d["roles"][0].update(status=3), "status: expected str"),
        (lambda d: d.update(roles="all passed"), "expected a list"),
    ],
)
def test_a_document_that_does_not_fit_the_config_is_refused(config: Config, tmp_path: Path, edit, message) -> None:
    sub = Submission("Ada", "Ada", tmp_path / "Lab2_Ada.py", "/submission/Lab2_Ada.py", name="Ada")
    doc = teamdoc.to_document(graded_team(config, sub))
    edit(doc)
    with pytest.raises(ValueError, match=message):
        teamdoc.from_document(doc, sub, config)


def test_base64_of_the_payload_is_what_the_log_carries(tmp_path: Path) -> None:
    raw = parcel.payload({"node": "n"}, team_files(tmp_path))
    lines = parcel.lines(raw)
    assert base64.b64decode("".join(lines[1:-1])) == raw
    assert lines[-1] == parcel.END


def test_a_team_with_its_own_command_comes_back_with_it(tmp_path: Path) -> None:
    path = tmp_path / "grading.yaml"
    path.write_text(CONFIG + 'teams:\n  Ada: {calc-server: {run: "python3 {file} --server {port}"}}\n')
    config = load_config(path)
    sub = Submission("Ada", "Ada", tmp_path / "Lab2_Ada.py", "/submission/Lab2_Ada.py", name="Ada")
    server, client = config.roles_for("Ada")
    team = TeamResult(sub, roles=[RoleResult(server), RoleResult(client)], parts=config.parts)
    back = teamdoc.from_document(teamdoc.to_document(team), sub, config)
    assert back.roles[0].spec.run == "python3 {file} --server {port}" != config.roles[0].run
    assert back == team
