# The handout's lab image: the lab image with its programs (services/, the reference
# servers, clients and the checker) as bytecode only, so the handout ships no source of
# them. Bytecode can be decompiled: this deters copying, it does not prevent it.
# Built by `scripts/lab handout` with an empty context: FROM is the repository's lab image.
ARG LAB_IMAGE=socklab:latest
FROM ${LAB_IMAGE}
USER root
# -b: each module.pyc beside where module.py was, which Python imports without the source.
RUN python3 -m compileall -q -b /opt/socklab/services \
    && find /opt/socklab/services -name '*.py' -delete \
    && find /opt/socklab/services -name __pycache__ -prune -exec rm -rf {} + \
    && python3 -m services --help >/dev/null
LABEL org.socklab.image="handout"
USER lab
