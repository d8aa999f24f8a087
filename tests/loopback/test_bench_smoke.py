"""The benchmark's CI smoke: every scenario runs briefly and reports (a check that it works, not a timing)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

SMOKE_TIMEOUT = 240
#: Scenarios that must report figures (the lab one is skipped in a smoke: it needs Docker).
MEASURED = ("fanout", "half_peer", "nagle", "slow", "join_idle", "calc", "datetime")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
    )
    assert done.returncode == 0, f"benchmark smoke failed:\n{done.stdout}\n{done.stderr[-4000:]}"
    files = sorted(out.glob("*.json"))
    assert len(files) == 1 and files[0].with_suffix(".svg").exists()
    results = json.loads(files[0].read_text())
    results["_stdout"] = done.stdout
    results["_svg"] = files[0].with_suffix(".svg").read_text()
    return results


def test_every_scenario_reports_without_error(smoke: dict) -> None:
    for name in (*MEASURED, "lab"):
        assert name in smoke["scenarios"], name
        assert "error" not in smoke["scenarios"][name], (name, smoke["scenarios"][name])


def test_fanout_delivers_everything_to_every_server(smoke: dict) -> None:
    ngircd_here = shutil.which("ngircd") is not None
    size = str(smoke["plan"]["fanout_sizes"][0])
    servers = smoke["scenarios"]["fanout"]["sizes"][size]
    for name in ("socklab", "threaded", *(("ngircd", "ngircd-nopenalty") if ngircd_here else ())):
        fixed = servers[name]["fixed"][0]
        assert fixed["sent"] > 0 and fixed["owed"] > 0, (name, fixed)
        assert fixed["lost"] == 0 and fixed["duplicated"] == 0, (name, fixed)
        assert fixed["latency_samples"] > 0 and fixed["p99_ms"] is not None, (name, fixed)
        assert servers[name]["max_sustained_dps_median"], (name, servers[name])


def test_side_scenarios_report_figures(smoke: dict) -> None:
    sc = smoke["scenarios"]
    assert sc["calc"]["requests"] > 0 and sc["calc"]["wrong_answers"] == 0 and sc["calc"]["errors"] == 0
    assert sc["datetime"]["replies_matched"] > 0 and sc["datetime"]["wrong"] == 0
    socklab_slow = sc["slow"]["servers"]["socklab"]
    assert socklab_slow["with_slow"]["delivered"] > 0 and socklab_slow["rss_end_kb"]
    storm = sc["join_idle"]["servers"]["socklab"]
    assert storm["join"]["joined"] == sc["join_idle"]["members"] and storm["rss_idle_kb"]
    assert "skipped" in sc["lab"]


def test_table_and_plot_are_written(smoke: dict) -> None:
    assert "chat fan-out" in smoke["_stdout"] and "targets" in smoke["_stdout"]
    assert smoke["_svg"].startswith("<svg") and "polyline" in smoke["_svg"]
    assert smoke["machine"]["cores"] and smoke["machine"]["python"]
