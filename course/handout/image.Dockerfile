# The handout's lab image: the lab image with its programs (services/: the reference
# servers, clients and the checker), the `evidence` tool and the grader of `selftest`
# (lablib/) as bytecode only, so the handout ships no source of them. Bytecode can be
# decompiled: this deters copying, it does not prevent it. Built by `scripts/lab handout`;
# its context holds only lablib/ and vendor/ (common.build_from_lab_image).
ARG LAB_IMAGE=socklab:latest
FROM ${LAB_IMAGE}
# First: every intermediate image of this build carries the handout label, not the lab's,
# which `scripts/lab build` prunes when untagged (a concurrent build would remove this one's
# layers under it: "unknown parent image ID").
LABEL org.socklab.image="handout"
USER root
# dpkt reads captures for `lab.py evidence`; PyYAML and requests (under the Docker SDK) serve the
# grader of `lab.py selftest`: pip where the base has it (python:3.11-slim), else Debian's
# packages (the offline base's system python3). The Docker SDK itself (7 or newer: Debian's 5.0
# lacks what the grader uses) is copied from the building environment (vendor/ in the context).
RUN set -eu; \
    if python3 -m pip --version >/dev/null 2>&1; then \
        python3 -m pip install --no-cache-dir -q dpkt "pyyaml>=6" "requests>=2.26" "urllib3>=1.26"; \
    else \
        apt-get update -qq; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            python3-dpkt python3-yaml python3-requests python3-urllib3 >/dev/null; \
        rm -rf /var/lib/apt/lists/*; \
    fi
COPY vendor/ /opt/socklab/
COPY lablib/ /opt/socklab/lablib/
# -b: each module.pyc beside where module.py was, which Python imports without the source.
RUN python3 -m compileall -q -b /opt/socklab/services /opt/socklab/lablib /opt/socklab/docker \
    && find /opt/socklab -name '*.py' -delete \
    && find /opt/socklab -name __pycache__ -prune -exec rm -rf {} + \
    && python3 -m services --help >/dev/null \
    && python3 -m lablib.evidence --help >/dev/null \
    && python3 -m lablib.selftest --help >/dev/null \
    && python3 -c 'import docker, sys; sys.exit(int(docker.__version__.split(".")[0]) < 7)'
USER lab
