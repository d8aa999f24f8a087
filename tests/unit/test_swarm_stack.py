"""The Swarm stack file is derived from compose.yaml and the catalogue, and the docker CLI accepts it."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from lablib import client as client_verb  # noqa: E402
from lablib import common  # noqa: E402
from lablib.swarm import engine  # noqa: E402
from lablib.swarm import stack as stackfile  # noqa: E402

from services import overlay_capture, roles  # noqa: E402


@pytest.fixture(scope="module")
def compose() -> dict:
    return stackfile.load_compose()


@pytest.fixture(scope="module")
def stack(compose: dict) -> dict:
    return stackfile.generate(compose)


def test_committed_stack_file_is_the_generated_one() -> None:
    committed = (ROOT / "swarm" / "stack.yaml").read_text()
    assert committed == stackfile.render(), "regenerate it: scripts/lab swarm stack > swarm/stack.yaml"


def test_stack_runs_the_long_running_roles_and_the_capture(stack: dict) -> None:
    expected = [r.name for r in roles.ROLES if r.octet is not None] + ["capture"]
    assert list(stack["services"]) == expected
    assert not {r.name for r in roles.INTERACTIVE_CLIENTS} & set(stack["services"])


@pytest.mark.parametrize("role", [r for r in roles.ROLES if r.octet is not None], ids=lambda r: r.name)
def test_service_keeps_compose_settings_and_uses_dnsrr(stack: dict, compose: dict, role: roles.Role) -> None:
    service, local = stack["services"][role.name], compose["services"][role.name]
    for key in ("image", "entrypoint", "hostname", "environment", "cap_add", "init", "healthcheck"):
        assert service.get(key) == local.get(key), key
    assert service["entrypoint"] == ["python3", "-m", "services", role.name]
    assert service["networks"] == ["lab"]
    assert service["deploy"]["endpoint_mode"] == "dnsrr"
    variable = "SOCKLAB_SERVERS_ON" if role.is_server else "SOCKLAB_CLIENTS_ON"
    assert service["deploy"]["placement"]["constraints"] == [f"${{{variable}:-{stackfile.SETTINGS[variable]}}}"]
    assert not {"depends_on", "build", "profiles", "network_mode"} & set(service)


def test_capture_is_global_on_the_overlay(stack: dict) -> None:
    capture = stack["services"]["capture"]
    assert capture["deploy"] == {"mode": "global", "endpoint_mode": "dnsrr"}
    assert capture["entrypoint"] == ["python3", "-m", "services.overlay_capture"]
    assert "SYS_ADMIN" in capture["cap_add"]
    assert {v["target"] for v in capture["volumes"]} == {"/captures", "/netns"}
    assert capture["environment"]["SOCKLAB_SUBNET"] == f"${{SOCKLAB_SWARM_SUBNET:-{roles.SWARM_SUBNET}}}"


def test_overlay_is_attachable_with_the_catalogue_subnet(stack: dict) -> None:
    network = stack["networks"]["lab"]
    assert network["driver"] == "overlay" and network["attachable"] is True
    assert network["ipam"]["config"] == [{"subnet": f"${{SOCKLAB_SWARM_SUBNET:-{roles.SWARM_SUBNET}}}"}]
    ipaddress.ip_network(roles.SWARM_SUBNET)  # a valid network
    assert not ipaddress.ip_network(roles.SWARM_SUBNET).overlaps(ipaddress.ip_network(f"{roles.NET_PREFIX}.0/24"))


def test_docker_cli_reads_the_stack_file(tmp_path: Path) -> None:
    """`docker stack config` is the CLI's own loader and schema check (no engine needed)."""
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI")
    probe = subprocess.run(["docker", "stack", "config", "--help"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("this docker CLI has no `docker stack config`")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "SOCKLAB_SWARM_SUBNET": "10.231.77.0/24"}
    done = subprocess.run(
        ["docker", "stack", "config", "-c", str(ROOT / "swarm" / "stack.yaml")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert config["networks"]["lab"]["ipam"]["config"] == [{"subnet": "10.231.77.0/24"}]
    capture = config["services"]["capture"]
    assert capture["healthcheck"]["test"][1] == 'test -e "$(cat /tmp/pcap-name)"'
    assert capture["environment"]["SOCKLAB_NODE"] == "{{.Node.Hostname}}"
    assert config["services"]["chat-server"]["deploy"]["placement"]["constraints"] == ["node.role == manager"]


# --- placement from labels -----------------------------------------------------------------------


def node(name: str, **labels: str) -> engine.Node:
    return engine.Node(name, name, "worker", "ready", "active", labels, "192.0.2.1")


@pytest.mark.parametrize(
    ("labels", "servers_on", "expected"),
    [
        ([{}, {}], None, {}),
        ([{"socklab.role": "servers"}, {}], None, {"SOCKLAB_SERVERS_ON": "node.labels.socklab.role == servers"}),
        ([{}, {"socklab.role": "clients"}], None, {"SOCKLAB_CLIENTS_ON": "node.labels.socklab.role == clients"}),
        ([{"socklab.role": "servers"}], "node.hostname == pc1", {"SOCKLAB_SERVERS_ON": "node.hostname == pc1"}),
    ],
)
def test_placement_from_labels(labels: list[dict[str, str]], servers_on: str | None, expected: dict) -> None:
    nodes = [node(f"n{i}", **lab) for i, lab in enumerate(labels)]
    assert engine.placement_env(nodes, servers_on, None) == expected


def test_task_address_on_the_lab_network() -> None:
    task = {
        "NetworksAttachments": [
            {"Network": {"Spec": {"Name": "ingress"}}, "Addresses": ["10.0.0.5/24"]},
            {"Network": {"Spec": {"Name": "socklab_lab"}}, "Addresses": ["172.28.1.7/24"]},
        ]
    }
    assert engine.task_address(task, "socklab_lab") == "172.28.1.7"
    assert engine.task_address(task, "other") == "-"


# --- the capture's namespace and file name -------------------------------------------------------

IP_ADDR = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: br0    inet 10.231.7.1/24 brd 10.231.7.255 scope global br0\\       valid_lft forever preferred_lft forever
"""


@pytest.mark.parametrize(
    ("subnet", "found"), [("10.231.7.0/24", "br0"), ("10.231.8.0/24", None), ("10.231.0.0/16", "br0")]
)
def test_overlay_bridge_found_by_subnet(subnet: str, found: str | None) -> None:
    assert overlay_capture.bridge_in(IP_ADDR, ipaddress.ip_network(subnet)) == found


def test_a_container_namespace_is_not_the_overlay() -> None:
    eth0 = "18: eth0    inet 10.231.7.3/24 brd 10.231.7.255 scope global eth0\\ ..."
    assert overlay_capture.bridge_in(eth0, ipaddress.ip_network("10.231.7.0/24")) is None


@pytest.mark.parametrize(
    ("stack", "node_name", "expected"),
    [
        ("socklab", "lab-pc-3", "socklab-lab-pc-3-20261128-171828.pcap"),
        ("socklab", "../../etc/passwd", "socklab-etc_passwd-20261128-171828.pcap"),
        ("", "..", "unknown-unknown-20261128-171828.pcap"),
        ("s l", "pc 1;rm", "s_l-pc_1_rm-20261128-171828.pcap"),
    ],
)
def test_pcap_name_is_safe(stack: str, node_name: str, expected: str) -> None:
    now = datetime(2026, 11, 28, 17, 18, 28, tzinfo=UTC)
    assert overlay_capture.pcap_name(stack, node_name, now) == expected


def test_missing_subnet_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SOCKLAB_SUBNET", raising=False)
    assert overlay_capture.main([]) == 2
    assert "SOCKLAB_SUBNET must be the overlay's subnet" in capsys.readouterr().err


# --- the client verb -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "role"), [("chat", "chat-client"), ("calc-client", "calc-client")])
def test_client_names(name: str, role: str) -> None:
    assert client_verb.client_role(name).name == role


@pytest.mark.parametrize("name", ["chat-server", "nope", "", "../x"])
def test_unknown_client_is_a_clear_error(name: str) -> None:
    with pytest.raises(common.LabError, match="clients: datetime, udp-echo, tcp-echo, calc, chat"):
        client_verb.client_role(name)


# --- this node's place in a swarm ------------------------------------------------------------------


class FakeEngine:
    """What require_swarm reads of an engine: ``info()['Swarm']``."""

    def __init__(self, state: str, manager: bool = False) -> None:
        self.swarm = {"LocalNodeState": state, "ControlAvailable": manager}

    def info(self) -> dict:
        return {"Swarm": self.swarm}


def test_no_swarm_names_docker_swarm_init() -> None:
    with pytest.raises(
        common.LabError, match=r"in no swarm\. On the instructor's machine run\n    docker swarm init\n"
    ):
        engine.require_swarm(FakeEngine("inactive"), manager=True)


def test_a_worker_cannot_run_the_managers_verbs() -> None:
    with pytest.raises(common.LabError, match="this node is a swarm worker: run it on a manager"):
        engine.require_swarm(FakeEngine("active", manager=False), manager=True)
    assert engine.require_swarm(FakeEngine("active", manager=False), manager=False)["LocalNodeState"] == "active"


def test_client_runs_compose_yaml_service_on_the_overlay() -> None:
    """`client chat --swarm` is compose.yaml's chat-client as `docker run` on <stack>_lab (settings via Compose)."""
    try:
        argv = client_verb.swarm_run_argv(roles.get("chat-client"), "st", ["--name", "Ada"], tty=False)
    except common.LabError as exc:
        pytest.skip(f"no Compose v2 here: {exc}")
    assert argv[:4] == ["docker", "run", "--rm", "-i"] and "-t" not in argv
    pairs = set(zip(argv, argv[1:], strict=False))
    assert {("--network", "st_lab"), ("--hostname", "chat-client"), ("--cap-add", "NET_ADMIN")} <= pairs
    assert ("-e", "SOCKLAB_HOST=chat-server") in pairs and "--init" in argv
    assert ("--label", "org.socklab.swarm.client=st") in pairs
    assert argv[-7:] == ["python3", common.IMAGE, "-m", "services", "chat-client", "--name", "Ada"]


def test_ship_dry_run_prints_one_transfer_per_node(capsys: pytest.CaptureFixture[str]) -> None:
    """`swarm ship` is deploy's image transfer (commands as data): printed, not run, with --dry-run."""
    from lablib.swarm import cli as swarm_cli

    assert swarm_cli.main(["ship", "--dry-run", "--transfer", "load", "ada@pc-2", "ssh://bob@pc-3:2222"]) == 0
    out = capsys.readouterr().out.splitlines()
    image = common.IMAGE
    assert out == [
        f"# copy {image} to the target",
        f"docker save {image} | gzip -1 | DOCKER_HOST=ssh://ada@pc-2 docker load",
        f"# copy {image} to the target",
        f"docker save {image} | gzip -1 | DOCKER_HOST=ssh://bob@pc-3:2222 docker load",
    ]


def test_stack_verb_prints_the_stack_file(capsys: pytest.CaptureFixture[str]) -> None:
    from lablib.swarm import cli as swarm_cli

    assert swarm_cli.main(["stack"]) == 0
    assert capsys.readouterr().out == (ROOT / "swarm" / "stack.yaml").read_text()


@pytest.mark.parametrize(
    ("argv", "swarm", "program_args"),
    [
        (["calc", "--swarm", "--", "--name", "Ada"], True, ["--name", "Ada"]),
        (["calc", "--", "--name", "Ada", "--swarm"], False, ["--name", "Ada", "--swarm"]),
        (["chat"], False, []),
    ],
)
def test_client_arguments_after_the_double_dash_go_to_the_program(
    argv: list[str], swarm: bool, program_args: list[str]
) -> None:
    args, rest = client_verb.parse(argv)
    assert (args.swarm, rest) == (swarm, program_args)
