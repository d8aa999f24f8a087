"""`scripts/lab sandbox`: show the sandbox a student's program runs in: limits, firewall."""

from __future__ import annotations

import argparse
import sys

from lablib import sandbox

#: The subnet the printed rules are an example for.
EXAMPLE_SUBNET = "172.30.1.0/24"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab sandbox", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    limits = sandbox.Limits()
    print((sandbox.__doc__ or "").split("\n\n", 1)[1].rsplit("\n\n", 1)[0].strip())
    print(f"\nuser: a fresh uid >= {sandbox.UID_BASE} per container; default limits: {limits.describe()}")
    print("grading.yaml may change them (limits: memory_mb, cpus, pids, tmpfs_mb).")
    print(f"\nfirewall (example subnet {EXAMPLE_SUBNET}):")
    for rule in sandbox.firewall_rules(EXAMPLE_SUBNET, sandbox.subnet_gateway(EXAMPLE_SUBNET)):
        print(f"  {rule}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
