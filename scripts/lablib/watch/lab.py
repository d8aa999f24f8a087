"""The running lab as the watch page sees it: its hosts from the Docker API, and its capture file.

Blocking (Docker SDK calls): the server runs :meth:`LabHosts.poll` in a worker thread.
Containers are found by the Compose project label, so ``docker compose run`` clients
appear and disappear with their containers; each host's role comes from the catalogue
(``services/roles.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lablib import common
from services import roles

ONEOFF_LABEL = "com.docker.compose.oneoff"
PCAP_NAME_FILE = "/tmp/pcap-name"  # where the capture sidecar records its file's name (compose.yaml)


@dataclass(frozen=True)
class Host:
    id: str
    name: str  # the service, or for a `run` client its container name without the project prefix
    service: str
    kind: str  # server | client | capture | other
    protocol: str
    ip: str
    state: str  # running, exited, ...
    status: str  # Docker's words: "Up 5 seconds (healthy)"
    oneoff: bool


def _kind(service: str) -> tuple[str, str]:
    if service == common.CAPTURE_SERVICE:
        return "capture", "tcpdump"
    role = roles.BY_NAME.get(service)
    if role is None:
        return "other", ""
    return ("client" if role.is_client else "server"), role.protocol


def host_of(summary: dict[str, Any], project: str) -> Host:
    """A Host from one entry of the engine's container list (``GET /containers/json``)."""
    labels = summary.get("Labels") or {}
    service = labels.get(common.SERVICE_LABEL, "?")
    oneoff = labels.get(ONEOFF_LABEL) == "True"
    name = (summary.get("Names") or ["?"])[0].lstrip("/")
    shown = name.removeprefix(f"{project}-").removeprefix(f"{project}_") if oneoff else service
    networks = (summary.get("NetworkSettings") or {}).get("Networks") or {}
    ip = next((n["IPAddress"] for n in networks.values() if n.get("IPAddress")), "")
    kind, protocol = _kind(service)
    state, status = summary.get("State", ""), summary.get("Status", "")
    return Host(summary["Id"], shown, service, kind, protocol, ip, state, status, oneoff)


class LabHosts:
    """Polls the engine for a project's containers, and names the capture file its sidecar writes."""

    def __init__(self, project: str, captures: Path) -> None:
        self.project = project
        self.captures = captures
        self.error: str | None = None
        self._pcap_names: dict[str, str | None] = {}  # capture container id -> file name

    def poll(self) -> tuple[list[Host], Path | None]:
        """(hosts, the running capture's file) now; ([], None) with ``error`` set if the engine is unreachable."""
        try:
            client = common.docker_client()
            found = client.api.containers(all=True, filters={"label": f"{common.PROJECT_LABEL}={self.project}"})
        except Exception as exc:  # LabError or the SDK's errors: shown on the page, polled again
            self.error = f"Docker: {exc}"
            return [], None
        self.error = None
        hosts = sorted((host_of(c, self.project) for c in found), key=lambda h: (h.kind, h.name))
        capture = next((h for h in hosts if h.kind == "capture" and h.state == "running"), None)
        return hosts, self._pcap_path(capture) if capture else None

    def _pcap_path(self, capture: Host) -> Path | None:
        if self._pcap_names.get(capture.id) is None:
            self._pcap_names[capture.id] = self._ask_pcap_name(capture.id)
        name = self._pcap_names[capture.id]
        return self.captures / name if name else None

    @staticmethod
    def _ask_pcap_name(container_id: str) -> str | None:
        try:
            code, out = common.docker_client().containers.get(container_id).exec_run(["cat", PCAP_NAME_FILE])
        except Exception:  # gone or not ready yet: asked again at the next poll
            return None
        name = Path(out.decode(errors="replace").strip()).name if code == 0 else ""
        return name or None


def hosts_json(hosts: list[Host]) -> list[dict[str, Any]]:
    return [asdict(h) for h in hosts]
