"""The grader's caps: teams at once from free memory, exchanges cut (saying so), pcap packets counted."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import sandbox  # noqa: E402
from lablib.grading import cli, reports  # noqa: E402
from lablib.grading.config import Config, load_config  # noqa: E402
from lablib.sandbox import outcome  # noqa: E402


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "grading.yaml"
    path.write_text("limits: {memory_mb: 200}\nparts: {p: {calc-server: {run: x}, chat-server: {run: y}}}\n")
    return load_config(path)


def test_team_memory_counts_programs_holders_and_the_checker(config: Config) -> None:
    assert cli.team_memory_mb(config) == 2 * (200 + cli.HOLDER_MB) + cli.CHECKER_MB


@pytest.mark.parametrize(("available", "wanted", "jobs"), [(None, 8, 8), (100_000, 8, 8), (2500, 8, 2), (10, 8, 1)])
def test_teams_at_once_follow_free_memory(config: Config, available: int | None, wanted: int, jobs: int) -> None:
    assert cli.memory_jobs(config, wanted, available) == jobs


def test_available_memory_is_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24684136 kB\nMemAvailable:    2048000 kB\n")
    assert cli.available_memory_mb(meminfo) == 2000
    assert cli.available_memory_mb(tmp_path / "missing") is None


def test_capped_says_what_was_cut() -> None:
    assert reports.capped("short", 10, "x") == "short"
    assert (
        reports.capped("a" * 30, 10, "see the pcap") == "a" * 10 + "\n[... cut here: 20 more characters; see the pcap]"
    )


def test_pcap_packets_counts_records(tmp_path: Path) -> None:
    pcap = tmp_path / "x.pcap"
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    records = b"".join(struct.pack("<IIII", 0, 0, n, n) + b"\0" * n for n in (60, 0, 1500))
    pcap.write_bytes(header + records)
    assert sandbox.pcap_packets(pcap) == 3
    pcap.write_bytes(b"not a pcap at all, no")
    assert sandbox.pcap_packets(pcap) == 0


def test_one_cgroup_reader_for_numbers_and_keyed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outcome, "CGROUP_ROOT", tmp_path)
    pids = tmp_path / "pids" / "docker" / "abc"
    pids.mkdir(parents=True)
    (pids / "pids.current").write_text("12\n")
    (pids / "pids.events").write_text("max 7\n")
    assert (outcome.process_count("abc"), outcome.hit_process_limit("abc")) == (12, 7)
    assert (outcome.process_count("zzz"), outcome.hit_memory_limit("abc")) == (0, 0)
    memory = tmp_path / "system.slice" / "docker-abc.scope"
    memory.mkdir(parents=True)
    (memory / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\n")
    assert outcome.hit_memory_limit("abc") == 3
