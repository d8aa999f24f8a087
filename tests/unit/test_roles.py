"""The catalogue (services/roles.py) is the one source of the lab's roles: everything else agrees with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from services import roles
from services.__main__ import PROGRAMS
from services.cli import PORTS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_every_role_is_a_program() -> None:
    assert set(PROGRAMS) == {r.name for r in roles.ROLES} | {"check"}


def test_cli_ports_come_from_the_catalogue() -> None:
    assert {f"{name}-server": port for name, port in PORTS.items()} == {r.name: r.port for r in roles.SERVERS}


@pytest.mark.parametrize("role", roles.ROLES, ids=lambda r: r.name)
def test_compose_service_matches_the_role(compose: dict, role: roles.Role) -> None:
    service = compose["services"][role.name]
    assert service["hostname"] == role.name
    assert service["entrypoint"] == ["python3", "-m", "services", role.name]
    networks = service.get("networks") or {}
    assert "lab" in networks
    address = ((networks.get("lab") or {}) if isinstance(networks, dict) else {}).get("ipv4_address")
    if role.octet is None:
        assert address is None
    else:
        assert address == f"${{SOCKLAB_NET_PREFIX:-{roles.NET_PREFIX}}}.{role.octet}"


@pytest.mark.parametrize("role", roles.SERVERS, ids=lambda r: r.name)
def test_compose_healthcheck_watches_the_role_port(compose: dict, role: roles.Role) -> None:
    test = " ".join(compose["services"][role.name]["healthcheck"]["test"])
    flag = "-Hlun" if role.transport == "udp" else "-Hltn"
    assert f"ss {flag} 'sport = :{role.port}'" in test


def test_compose_has_no_role_outside_the_catalogue(compose: dict) -> None:
    assert set(compose["services"]) - {"capture"} == set(roles.BY_NAME)


def test_clients_talk_to_servers() -> None:
    for client in roles.CLIENTS:
        server = roles.get(client.server)
        assert server.is_server
        assert (server.port, server.transport, server.protocol) == (client.port, client.transport, client.protocol)


def test_fixed_addresses_are_unique_and_below_the_dynamic_range() -> None:
    octets = [r.octet for r in roles.ROLES if r.octet is not None]
    assert len(octets) == len(set(octets))
    assert all(1 < o < 128 for o in octets)


def test_dissector_port_table_matches() -> None:
    lua = (ROOT / "wireshark" / "socklab.lua").read_text()
    rows = re.findall(r'name = "(\w+)", transport = PT_(UDP|TCP), port = (\d+)', lua)
    assert {(t.lower(), int(p)): name for name, t, p in rows} == roles.PROTOCOL_PORTS


def test_unknown_role_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown role 'nope'; roles: udp-echo-server"):
        roles.get("nope")
