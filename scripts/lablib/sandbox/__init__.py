"""The sandbox a student's program runs in (scripts/lab own and scripts/lab grade): a library, no side effects.

A student's program is untrusted code. Each one runs in a container as a
non-root user, with no capabilities, ``no-new-privileges``, a read-only root
filesystem (writable: a small /tmp tmpfs), memory (no swap), CPU and process
limits, bounded logs, and in a network namespace that only reaches its own
subnet: a *holder* container owns the namespace (address, alias, firewall
rules, tcpdump when grading) and the student's container joins it
(``network_mode: container:<holder>``), so the rules are in place before the
student's first instruction and the student cannot change them (no NET_ADMIN).

The holder's rules, in the shared namespace (iptables OUTPUT, policy DROP;
IPv6 switched off and dropped): Docker's resolver 127.0.0.11 is refused, then
loopback and replies to connections others opened are allowed; new packets
only go to the namespace's own subnet, never to its gateway (the Docker host)
nor anywhere else. Names resolve through /etc/hosts only. Rules that cannot
be installed stop the sandbox. The grader's networks are also ``internal: true``.

Modules: ``settings`` (limits, container settings), ``firewall``,
``containers`` (start a holder and a student), ``outcome`` (what a program
did), ``resources`` (remove what was created), ``cli`` (``scripts/lab sandbox``).
"""

from __future__ import annotations

from .containers import exited, start_holder, start_student, wait_until
from .firewall import (
    EMBEDDED_DNS,
    FirewallError,
    apply_firewall,
    blocked_packets,
    firewall_rules,
    firewall_script,
    holder_exec,
    subnet_gateway,
)
from .outcome import Outcome, captured_packets, observe, pcap_packets
from .resources import Resources, sweep
from .runs import GRADE_PREFIX, HOST_LABEL, RunLock, host_name, is_alive, sweep_abandoned
from .settings import (
    API_TIMEOUT,
    FLOOD_BYTES,
    LOG_MAX_BYTES,
    OUTPUT_SHOWN,
    OWNER_LABEL,
    STOP_TIMEOUT,
    SUBMISSION_DIR,
    UID_BASE,
    Limits,
    SandboxError,
    engine_path,
    fresh_uid,
    host_ids,
    log_config,
    student_settings,
    submission_mount,
    user_path,
)

__all__ = [
    "API_TIMEOUT",
    "EMBEDDED_DNS",
    "FirewallError",
    "GRADE_PREFIX",
    "HOST_LABEL",
    "RunLock",
    "host_name",
    "is_alive",
    "sweep_abandoned",
    "FLOOD_BYTES",
    "LOG_MAX_BYTES",
    "OUTPUT_SHOWN",
    "OWNER_LABEL",
    "STOP_TIMEOUT",
    "SUBMISSION_DIR",
    "UID_BASE",
    "Limits",
    "Outcome",
    "Resources",
    "SandboxError",
    "apply_firewall",
    "blocked_packets",
    "exited",
    "firewall_rules",
    "firewall_script",
    "holder_exec",
    "fresh_uid",
    "host_ids",
    "log_config",
    "captured_packets",
    "observe",
    "pcap_packets",
    "start_holder",
    "engine_path",
    "start_student",
    "student_settings",
    "submission_mount",
    "subnet_gateway",
    "sweep",
    "user_path",
    "wait_until",
]
