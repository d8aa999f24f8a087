"""Marks every test by its layer (the folder it lives in), so each layer runs alone:

pytest -m unit        # protocol and framing code, no sockets, seconds
pytest -m loopback    # the real programs as processes on 127.0.0.1
pytest -m docker      # the container lab through the Docker SDK
pytest -m browser     # pages in headless Chromium (Selenium)
"""

from __future__ import annotations

from pathlib import Path

import pytest

LAYERS = ("unit", "loopback", "docker", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for layer in LAYERS:
            if layer in parts:
                item.add_marker(getattr(pytest.mark, layer))
