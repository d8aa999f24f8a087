#!/usr/bin/env python3
"""The lab's launcher in the handout: `python3 lab.py COMMAND` (Windows: `py lab.py COMMAND`).

    up                    load the lab image if needed, start the servers and the capture, wait until healthy
    ps                    the lab's containers
    logs [-f] [SERVICE]   the programs' output
    check ROLE            the conformance checker against the lab's server for ROLE (e.g. calc-server)
    evidence [PCAP]       evidence for your report from the newest capture and the servers' output
    selftest FILE         grade your Lab2_NAME.py as the grader will (needs no `up`): per role, per case, score
    own ROLE FILE [-- ARGS]     your program in a server's place (--as-client: as one more client host)
    own --restore ROLE    put the reference server back (after own --detach)
    down                  stop and remove everything of the lab; the captures stay in captures/

Each command prints the plain `docker` / `docker compose` command it runs, so every step can
also be typed by hand. Needs Docker (Docker Desktop on Windows and macOS) with Compose v2,
and Python 3.8 or newer; nothing else. Standard library only; paths are built with pathlib
and passed to Docker as arguments (never through a shell), so Windows paths with spaces work.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETTINGS = json.loads((HERE / "handout.json").read_text(encoding="utf-8"))
IMAGE = SETTINGS["image"]
ARCHIVE = HERE / SETTINGS["archive"]
PROJECT = os.environ.get("SOCKLAB_PROJECT", "socklab")
PREFIX = os.environ.get("SOCKLAB_NET_PREFIX", "172.28.0")
CAPTURES = HERE / "captures"
PROJECT_LABEL = "com.docker.compose.project"
OWN_LABEL = "org.socklab.own.role"
#: The sandbox of `own` (the repository's `scripts/lab own` adds a firewall on top).
SANDBOX = ["--user", "10001:10001", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only",
           "--tmpfs", "/tmp:size=16m", "--memory", "128m", "--memory-swap", "128m", "--cpus", "0.5",
           "--pids-limit", "64"]  # fmt: skip
CHECKER_HOST = "udp-echo-client"  # a client service whose container runs the checker (same image)
#: selftest: the grader runs in a container of the image and starts the sandboxes through the engine's
#: socket; everything it mounts lies in SELFTEST/<your file's name>/, which it knows as WORKDIR (and
#: reads the engine's own path of it from its container's mount: Docker Desktop's differs from yours).
SELFTEST = HERE / "selftest"
WORKDIR = "/work"
GRADING = HERE / "grading.yaml"
DOCKER_SOCKET = "/var/run/docker.sock"  # the engine's own socket; Docker Desktop maps this path too


class LabError(Exception):
    pass


def show(argv: list[str]) -> None:
    print("$ " + " ".join(shlex.quote(a) for a in argv), flush=True)


def run(argv: list[str], check: bool = True, quiet: bool = False, **kwargs: object) -> subprocess.CompletedProcess:
    if not quiet:
        show(argv)
    env = {**os.environ, "SOCKLAB_CAPTURES": str(CAPTURES)}
    try:
        done = subprocess.run(argv, cwd=str(HERE), env=env, **kwargs)  # type: ignore[call-overload]
    except FileNotFoundError:
        raise LabError(f"{argv[0]} not found: install Docker (Docker Desktop on Windows and macOS)") from None
    if check and done.returncode != 0:
        raise LabError(f"{argv[0]} {argv[1]} failed (exit status {done.returncode})")
    return done


def compose(*args: str) -> list[str]:
    return ["docker", "compose", "-p", PROJECT, "-f", str(HERE / "compose.yaml"), *args]


def ensure_image() -> None:
    images = [IMAGE, SETTINGS["student_image"]]
    found = run(["docker", "image", "inspect", *images], check=False, quiet=True, capture_output=True)
    if found.returncode != 0:
        print(f"loading the lab image from {ARCHIVE.name} (once) ...")
        run(["docker", "load", "-i", str(ARCHIVE)])


def up(_args: argparse.Namespace) -> None:
    ensure_image()
    CAPTURES.mkdir(exist_ok=True)  # before Compose would create it owned by root
    run(compose("up", "-d", "--wait"))
    print("\nThe lab is up. Clients, each on its own host (one terminal each):")
    for client in SETTINGS["clients"]:
        print(f"  docker compose -p {PROJECT} run --rm {client}")
    print(f"Captures: {CAPTURES} (open the newest in Wireshark)")


def down(_args: argparse.Namespace) -> None:
    # `compose down` leaves one-off `run` containers (and so the network) behind: remove them first.
    listed = run(["docker", "ps", "-aq", "--filter", f"label={PROJECT_LABEL}={PROJECT}"], capture_output=True,
                 text=True, quiet=True)  # fmt: skip
    ids = listed.stdout.split()
    if ids:
        run(["docker", "rm", "-f", *ids], stdout=subprocess.DEVNULL)
    run(compose("down", "-v"))
    pcaps = sorted(CAPTURES.glob("*.pcap"), key=lambda p: p.stat().st_mtime)
    if pcaps:
        print(f"newest capture: {pcaps[-1]}")


def ps(_args: argparse.Namespace) -> None:
    run(compose("ps", "-a"))


def logs(args: argparse.Namespace) -> None:
    run(compose("logs", *args.rest), check=False)


def check(args: argparse.Namespace) -> None:
    if args.role not in SETTINGS["servers"]:
        raise LabError(f"check takes a server role: {', '.join(SETTINGS['servers'])}")
    argv = compose("run", "--rm", "--no-deps", "-T", "--entrypoint", "python3", CHECKER_HOST,
                   "-m", "services", "check", args.role, "--host", args.role, *args.rest)  # fmt: skip
    done = run(argv, check=False)
    if done.returncode != 0:
        raise LabError(f"the checker found problems with {args.role} (exit status {done.returncode})")


def own_name(role: str) -> str:
    return f"{PROJECT}-own-{role}"


def own(args: argparse.Namespace) -> None:
    if args.restore:
        run(["docker", "rm", "-f", own_name(args.role)], check=False, stdout=subprocess.DEVNULL)
        run(compose("start", args.role), check=False)
        return
    if args.file is None:
        raise LabError("own needs FILE, your program (or --restore ROLE)")
    file = Path(args.file).expanduser().resolve()
    if not file.is_file():
        raise LabError(f"{file}: no such file")
    argv = ["docker", "run", "--name", own_name(args.role), "--label", f"{PROJECT_LABEL}={PROJECT}",
            "--label", f"{OWN_LABEL}={args.role}", "--network", f"{PROJECT}_lab", *SANDBOX,
            "--mount", f"type=bind,source={file},target=/submission/{file.name},readonly"]  # fmt: skip
    if not args.as_client:
        octet = SETTINGS["servers"].get(args.role)
        if octet is None:
            raise LabError(f"{args.role} is not a server ({', '.join(SETTINGS['servers'])}); use --as-client")
        run(compose("stop", args.role))
        argv += ["--ip", f"{PREFIX}.{octet}", "--network-alias", args.role, "--hostname", args.role]
    interactive = not args.detach and sys.stdin.isatty()
    argv += ["-d"] if args.detach else ["--rm", "-i"] + (["-t"] if interactive else [])
    argv += ["--entrypoint", "python3", IMAGE, f"/submission/{file.name}", *args.rest]
    try:
        run(argv, check=args.detach)
    except KeyboardInterrupt:
        pass
    finally:
        if not args.detach:
            run(["docker", "rm", "-f", own_name(args.role)], check=False, quiet=True, stderr=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL)  # fmt: skip
            if not args.as_client:
                run(compose("start", args.role), check=False)
    if args.detach:
        print(f"put the reference back with: python3 lab.py own --restore {args.role}")


def role_log(role: str) -> str:
    """What ``role`` printed: your program's output if `own` put it in that place, else the reference's."""
    mine = run(["docker", "logs", own_name(role)], check=False, quiet=True, capture_output=True, text=True)
    if mine.returncode == 0:
        return mine.stdout + mine.stderr
    theirs = run(compose("logs", "--no-log-prefix", "--no-color", role), check=False, quiet=True,
                 capture_output=True, text=True)  # fmt: skip
    return theirs.stdout if theirs.returncode == 0 else ""


def evidence(args: argparse.Namespace) -> None:
    pcaps = sorted(CAPTURES.glob("*.pcap"), key=lambda p: p.stat().st_mtime)
    pcap = Path(args.pcap).resolve() if args.pcap else (pcaps[-1] if pcaps else None)
    if pcap is None or not pcap.is_file():
        raise LabError(f"no capture ({args.pcap or CAPTURES}): python3 lab.py up, run your clients, then try again")
    out = Path(args.out).resolve() if args.out else pcap.with_name(f"{pcap.stem}-evidence")
    log_dir = HERE / ".evidence-logs"  # a folder Docker Desktop shares (it is beside this launcher)
    log_dir.mkdir(exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    for role in SETTINGS["logged_roles"]:
        (log_dir / f"{role}.log").write_text(role_log(role), encoding="utf-8", newline="\n")
    user = ["--user", f"{os.getuid()}:{os.getgid()}"] if hasattr(os, "getuid") else []  # Linux: files stay yours
    run(["docker", "run", "--rm", *user, "--network", "none",
         "--mount", f"type=bind,source={pcap.parent},target=/captures,readonly",
         "--mount", f"type=bind,source={log_dir},target=/logs,readonly",
         "--mount", f"type=bind,source={out},target=/out",
         "--entrypoint", "python3", IMAGE, "-m", "lablib.evidence", f"/captures/{pcap.name}", "--logs", "/logs",
         "--out", "/out"])  # fmt: skip
    print(f"open {out / 'evidence.md'}")


def engine_socket() -> str:
    """The socket to mount: a rootless engine's own (DOCKER_HOST=unix://...) on Linux, else the standard path."""
    host = os.environ.get("DOCKER_HOST", "")
    return host[len("unix://") :] if sys.platform == "linux" and host.startswith("unix://") else DOCKER_SOCKET


def grader_user(socket: str) -> list[str]:
    """On Linux, the grader runs as you (results stay yours) in the socket's group; Docker Desktop
    (Windows, macOS) maps shared files to you itself and its socket wants root in the container."""
    if sys.platform != "linux":
        return []
    return ["--user", f"{os.getuid()}:{os.getgid()}", "--group-add", str(os.stat(socket).st_gid)]


def selftest(args: argparse.Namespace) -> None:
    file = Path(args.file).expanduser().resolve()
    if not file.is_file() or file.suffix != ".py":
        raise LabError(f"{file}: expected your program, an existing Lab2_<NAME>.py")
    ensure_image()
    work = SELFTEST / file.stem  # beside this launcher: a folder Docker Desktop shares
    shutil.rmtree(work, ignore_errors=True)  # the previous run's results of this file
    work.mkdir(parents=True)
    shutil.copyfile(file, work / file.name)
    shutil.copyfile(GRADING, work / GRADING.name)
    socket = engine_socket()
    name = f"{PROJECT}-selftest-{os.getpid()}"  # its hostname too: the grader finds its own container by it
    argv = ["docker", "run", "--rm", "--name", name, "--hostname", name, *grader_user(socket),
            "--mount", f"type=bind,source={socket},target={DOCKER_SOCKET}",
            "--mount", f"type=bind,source={work},target={WORKDIR}",
            "-e", f"SOCKLAB_WORKDIR={WORKDIR}", "-e", f"SOCKLAB_IMAGE={IMAGE}",
            "--entrypoint", "python3", IMAGE, "-m", "lablib.handout_selftest", file.name]  # fmt: skip
    done = run(argv, check=False)
    print(f"({WORKDIR} above is {work} here)")
    if done.returncode != 0:
        raise LabError(f"selftest could not grade {file.name} (exit status {done.returncode})")


COMMANDS = {"up": up, "down": down, "ps": ps, "logs": logs, "check": check, "own": own, "evidence": evidence,
            "selftest": selftest}  # fmt: skip


def parse(argv: list[str]) -> argparse.Namespace:
    rest: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(prog="lab.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "ps"):
        sub.add_parser(name)
    sub.add_parser("logs").add_argument("rest", nargs="*", help="options and services for docker compose logs")
    check_parser = sub.add_parser("check")
    check_parser.add_argument("role")
    sub.add_parser("selftest").add_argument("file", help="your program, Lab2_<NAME>.py")
    evidence_parser = sub.add_parser("evidence")
    evidence_parser.add_argument("pcap", nargs="?", help="a capture (default: the newest in captures/)")
    evidence_parser.add_argument("--out", help="folder to write (default: CAPTURE-evidence/ beside it)")
    own_parser = sub.add_parser("own")
    own_parser.add_argument("role")
    own_parser.add_argument("file", nargs="?")
    own_parser.add_argument("--as-client", action="store_true", help="one more client host beside the servers")
    own_parser.add_argument("--detach", action="store_true", help="return at once (then: own --restore ROLE)")
    own_parser.add_argument("--restore", action="store_true", help="remove your program, restart the reference")
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "logs":
        parser.error(f"unrecognized arguments: {' '.join(unknown)} (program arguments go after --)")
    args.rest = list(getattr(args, "rest", [])) + unknown + rest if args.command == "logs" else rest
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    try:
        COMMANDS[args.command](args)
    except LabError as exc:
        print(f"lab.py: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.command == "up":
        print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
