"""Stop the lab and remove its containers (clients from run too), network and volumes; keep captures/."""

from __future__ import annotations

import argparse
import subprocess
import sys

from lablib import common, sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab down", description=__doc__)
    parser.add_argument("--swarm", action="store_true", help="remove the lab's stack from this swarm (never leaves it)")
    if parser.parse_args(argv).swarm:
        from lablib.swarm import lab as swarm_lab

        return swarm_lab.run("down", None)
    project = common.project_name()
    try:
        pcap = common.capture_file(project)  # ask before the sidecar is gone
        # Compose's own down leaves `run` containers (and so the network) behind:
        # stop and remove every container of the project first, capture last.
        common.remove_project(project)
        done = subprocess.run(
            [*common.lab_compose(project), "down", "--volumes", "--remove-orphans"],
            env=common.lab_env(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            print(f"scripts/lab down: compose down failed (exit {done.returncode})", file=sys.stderr)
            return done.returncode
        common.remove_project(project)  # verifies nothing is left (raises if so)
        # And whatever grade runs killed outright left on this machine (a live run is left alone).
        swept, problems = sandbox.sweep_abandoned(common.docker_client(), sandbox.GRADE_PREFIX)
        if swept:
            common.log(f"removed what earlier grade runs left: {', '.join(swept)}")
        if problems:  # e.g. a network Docker 20.10 keeps "with active endpoints": not this lab's failure
            common.log("could not remove what an earlier grade run left: " + "; ".join(problems))
    except common.LabError as exc:
        print(f"scripts/lab down: {exc}", file=sys.stderr)
        return 1
    common.log(f"project {project} removed")
    if pcap is not None and pcap.exists():
        shown = pcap.relative_to(common.ROOT) if pcap.is_relative_to(common.ROOT) else pcap
        print(f"capture: {shown} ({pcap.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
