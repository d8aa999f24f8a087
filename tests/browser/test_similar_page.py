"""similar.html in a real browser: flagged pairs first, and a pair's side-by-side view with linked matches.

SOCKLAB_EVIDENCE=1 also keeps the screenshot of a pair's page as docs/evidence/similar-pair.png.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

import make_similar  # noqa: E402
from lablib import similar  # noqa: E402

EVIDENCE = ROOT / "docs" / "evidence" / "similar-pair.png"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, out = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("report")
    make_similar.build(folder)
    assert similar.main([str(folder), "--out", str(out), "--no-default-base", "--base", str(make_similar.BASE)]) == 0
    return out


def test_flagged_pairs_come_first(browser: Any, report: Path) -> None:
    browser.get((report / "similar.html").as_uri())
    rows = browser.execute_script(
        "return [...document.querySelectorAll('#pairs tr')].slice(1).map(r => r.className === 'flagged')"
    )
    flagged = rows.count(True)
    assert flagged == len(make_similar.planted())
    assert rows[:flagged] == [True] * flagged and True not in rows[flagged:]
    links = browser.execute_script("return document.querySelectorAll('#pairs tr.flagged a').length")
    assert links == flagged  # each flagged pair opens its side-by-side page


def test_the_side_by_side_view_links_each_match_to_its_partner(browser: Any, report: Path) -> None:
    browser.get((report / "similar.html").as_uri())
    link = browser.execute_script(
        "return [...document.querySelectorAll('#pairs tr.flagged a')]"
        ".find(a => a.textContent.includes('Patchwork') && a.textContent.includes('Reordered'))"
    )
    link.click()  # Good's chat part, renamed, in Osprey's program; against Good reordered: several regions
    assert "Reordered" in browser.title and "Patchwork" in browser.title
    matches = browser.execute_script(
        """const pane = side => [...document.querySelectorAll('#pane-' + side + ' a.match')];
        return ['a', 'b'].map(side => pane(side).map(m => ({
            id: m.id, href: m.getAttribute('href'), cls: m.className,
            bg: getComputedStyle(m).backgroundColor})));"""
    )
    left, right = matches
    assert len(left) == len(right) >= 2
    right_ids = {m["id"]: m for m in right}
    for m in left:
        partner = right_ids[m["href"].removeprefix("#")]
        assert partner["href"] == "#" + m["id"]  # linked both ways
        assert partner["cls"] == m["cls"] and m["bg"] not in {"rgba(0, 0, 0, 0)", "transparent"}

    # Clicking a match on the left brings its partner into view on the right.
    last = left[-1]["id"]
    browser.execute_script("document.getElementById('pane-b').scrollTop = 0")
    browser.find_element("id", last).click()
    visible = browser.execute_script(
        """const pane = document.getElementById('pane-b').getBoundingClientRect();
        const target = document.getElementById(arguments[0]).getBoundingClientRect();
        return [location.hash, target.top >= pane.top - 1 && target.top < pane.bottom,
                document.getElementById('pane-b').scrollTop];""",
        left[-1]["href"].removeprefix("#"),
    )
    assert visible[0] == left[-1]["href"] and visible[1] and visible[2] > 0
    outline = browser.execute_script(
        "return getComputedStyle(document.querySelector(':target')).outlineStyle", left[-1]["href"]
    )
    assert outline == "solid"
    shot = report / "similar-pair.png"
    assert browser.save_screenshot(str(shot))
    if os.environ.get("SOCKLAB_EVIDENCE"):
        shutil.copyfile(shot, EVIDENCE)
