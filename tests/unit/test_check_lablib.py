"""scripts/lab check: the lab's fixed server addresses as the default --host."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib.check import with_lab_host  # noqa: E402


@pytest.mark.parametrize(
    ("argv", "env", "want"),
    [
        (["calc-server"], {}, ["calc-server", "--host", "172.28.0.13"]),
        (["chat-server", "--level", "strict"], {}, ["chat-server", "--host", "172.28.0.14", "--level", "strict"]),
        (["udp-echo-server"], {"SOCKLAB_NET_PREFIX": "10.9.8"}, ["udp-echo-server", "--host", "10.9.8.10"]),
        (["calc-server", "--host", "127.0.0.1"], {}, ["calc-server", "--host", "127.0.0.1"]),
        (["calc-server", "--host=h"], {}, ["calc-server", "--host=h"]),
        (["calc-server"], {"SOCKLAB_HOST": "h"}, ["calc-server"]),
        (["calc-client", "--cmd", "x"], {}, ["calc-client", "--cmd", "x"]),
    ],
)
def test_with_lab_host(argv: list[str], env: dict[str, str], want: list[str]) -> None:
    assert with_lab_host(argv, env) == want
