"""The lab tools' role lists (check, ps, own, deploy, up, the Docker tests) come from the catalogue."""

from __future__ import annotations

import sys

import pytest
import yaml

from services import roles
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lablib import check, deploy, own, ps, up  # noqa: E402  (scripts/ is not a package on the default path)

SERVER_NAMES = [r.name for r in roles.SERVERS]


@pytest.fixture(scope="module")
def deploy_compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_every_tool_knows_every_server() -> None:
    assert list(check.LAB_HOSTS) == SERVER_NAMES
    assert list(ps.LISTENS) == SERVER_NAMES
    assert list(own.SERVERS) == SERVER_NAMES
    assert [s.service for s in deploy.SERVERS] == SERVER_NAMES


def test_fixed_addresses_and_ports() -> None:
    assert check.lab_address("chat-server", {}) == "172.28.0.14"
    assert ps.LISTENS["datetime-server"] == "12001/udp"
    assert ps.LISTENS["tcp-echo-server"] == "12000/tcp"


@pytest.mark.parametrize("server", deploy.SERVERS, ids=lambda s: s.service)
def test_deploy_publishes_each_server_as_deploy_compose_does(deploy_compose: dict, server: deploy.Published) -> None:
    # The variable names are part of deploy/compose.yaml's interface: people set them.
    ports = deploy_compose["services"][server.service]["ports"]
    want = f"${{SOCKLAB_PUBLISH_ADDRESS:-0.0.0.0}}:${{{server.variable}:-{server.container_port}}}"
    assert ports == [f"{want}:{server.container_port}/{server.proto}"]
    assert roles.get(server.client).server == server.service


def test_deploy_variable_names_are_kept() -> None:
    assert [s.variable for s in deploy.SERVERS] == [
        "SOCKLAB_PUBLISH_UDP_ECHO",
        "SOCKLAB_PUBLISH_TCP_ECHO",
        "SOCKLAB_PUBLISH_DATETIME",
        "SOCKLAB_PUBLISH_CALC",
        "SOCKLAB_PUBLISH_CHAT",
    ]


def test_up_hints_name_the_interactive_clients_of_compose() -> None:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    hinted = [name for name, _ in up.CLIENTS]
    assert hinted == ["udp-echo-client", "tcp-echo-client", "calc-client", "chat-client"]
    assert all(hint for _, hint in up.CLIENTS)
    for name in hinted:
        assert "clients" in services[name].get("profiles", []), name
    assert [r.name for r in up.FOLLOWED] == ["datetime-client"]
