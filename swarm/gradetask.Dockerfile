# The image of `scripts/lab grade --swarm`'s tasks: the lab image, the grader (scripts/lablib) and the two
# libraries it needs (the Docker SDK, PyYAML). scripts/lablib/swarm/grade.py builds it with a context of
# this file, scripts/lablib and the Docker SDK; each task grades one team on its node (scripts/lablib/swarm/gradetask.py).
ARG LAB_IMAGE=socklab:latest
FROM ${LAB_IMAGE}
# First: every intermediate image carries this label, not the lab image's, which `scripts/lab build` prunes.
LABEL org.socklab.image="gradetask"
USER root
# The grader's libraries: requests and PyYAML from Debian on the offline base (Debian's python3, no pip),
# from pip on python:3.11-slim. The Docker SDK (>= 7; Debian has 5.0) comes in the build context, copied
# from the one scripts/lab runs with (vendor/docker): no package index is needed at build time.
RUN set -eu; \
    if python3 -m pip --version >/dev/null 2>&1; then \
        python3 -m pip install --no-cache-dir -q "requests>=2.26" "urllib3>=1.26" "pyyaml>=6"; \
    else \
        apt-get update -qq; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            python3-yaml python3-requests >/dev/null; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    python3 -c 'import requests, yaml'
ENV PYTHONPATH=/opt/socklab/scripts:/opt/socklab:/opt/socklab/vendor
ENTRYPOINT ["python3", "-m", "lablib.swarm.gradetask"]
CMD ["task"]
COPY vendor/ /opt/socklab/vendor/
COPY scripts/lablib/ /opt/socklab/scripts/lablib/
