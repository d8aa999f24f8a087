# Two images from one base (plain `docker build`; the legacy builder handles stages and --target):
#   student  python3 and the standard library only, nothing of socklab: students' programs run on it
#            (scripts/lab grade, scripts/lab own), so no reference server or checker case can be borrowed;
#   lab      (the default, last stage) every server, client, the checker and the capture sidecar.
#   docker run --rm -it socklab chat-client --host 172.28.0.14
# BASE_IMAGE must provide python3 (3.11+) and apt; scripts/lab builds an offline
# Debian base (socklab-base:bookworm) when python:3.11-slim cannot be pulled.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS student
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LANG=C.UTF-8
# The sandbox runs each program as a uid of its own in the group `lab` (10001).
RUN set -eu; \
    useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lab; \
    python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version'
LABEL org.socklab.image="student"
USER lab
CMD ["python3"]

FROM ${BASE_IMAGE} AS lab
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/opt/socklab \
    LANG=C.UTF-8

# Network tools: tcpdump (capture sidecar), iproute2 (ss for health checks, ip),
# iptables (tests drop packets inside a container), libcap2-bin (setcap).
# The offline base already has them, so apt only runs on the python base.
# File capabilities on tcpdump let the sidecar capture as the host user, so the
# pcap files belong to whoever started the lab.
RUN set -eu; \
    pkgs="tcpdump iproute2 iptables libcap2-bin"; \
    if ! dpkg -s $pkgs >/dev/null 2>&1; then \
        apt-get update -qq; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    setcap cap_net_raw,cap_net_admin=eip "$(command -v tcpdump)"; \
    useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lab; \
    python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version'

LABEL org.socklab.image="lab"
USER lab
ENTRYPOINT ["python3", "-m", "services"]
CMD ["--help"]
# Last, alone: the legacy builder redoes every step after a changed one (seconds
# each on fuse-overlayfs), so editing services/ costs just this layer.
# PYTHONPATH above makes the package importable from any working directory.
COPY services/ /opt/socklab/services/
