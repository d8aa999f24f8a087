"""The scenarios: each takes the plan, runs its servers in turn and returns plain dicts for the report.

Servers are measured one at a time (never concurrently), in an order that is
reversed on every repetition, so drift in the machine's load hits all of them
alike; the spread across repetitions is kept as the noise figure.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks import ngircd, request_load
from benchmarks.loadgen import Fleet
from benchmarks.plan import Plan
from benchmarks.servers import CALC, CHAT_SERVERS, DATETIME, ROOT, Server, ServerSpec
from benchmarks.step_result import JoinResult

#: The targets from issue 9, checked in the report.
SUSTAIN_ON_TIME_PCT = 99.0
SUSTAIN_P99_MS = 100.0
JOIN_TIMEOUT = 30.0
SETUP_PACING = 64
#: A slow step is stretched to carry this many messages, but not beyond this many seconds.
STEP_LIMITS = {"min_messages": 20, "max_seconds": 5.0}
#: Rate search: double until a step fails, then refine upwards from the last pass by this factor.
COARSE_FACTOR = 2.0
FINE_FACTOR = 2**0.25
SEARCH_START_DPS = 50_000
SEARCH_MAX_DPS = 60_000_000
#: A failing search step is run once more before it counts: on a shared machine one step can be
#: spoiled by another process taking the core for a few hundred ms. Passing is never retried.
CONFIRM_FAILURES = 1
#: Bytes of filler per slow-consumer message (a line of about 120 bytes, as people type).
SLOW_PAD = 100
#: Ask for immediate ACKs on every generator socket (``--quickack``).
QUICKACK = False


def configure(plan: Plan, *, quickack: bool) -> None:
    global QUICKACK
    QUICKACK = quickack
    STEP_LIMITS.update(min_messages=plan.min_step_messages, max_seconds=plan.max_step_seconds)


def interleaved(names: tuple[str, ...], rep: int) -> tuple[str, ...]:
    return names if rep % 2 == 0 else tuple(reversed(names))


def sustained(step: dict) -> bool:
    return (
        "error" not in step
        and step["on_time_pct"] >= SUSTAIN_ON_TIME_PCT
        and step["p99_ms"] is not None
        and step["p99_ms"] < SUSTAIN_P99_MS
        and step["lost"] == 0
        and step["duplicated"] == 0
    )


# ---- a chat server with its room of members ------------------------------------------------


class ChatRig:
    """One chat server plus N joined members; rebuilt when a step leaves members dropped."""

    def __init__(self, spec: ServerSpec, n: int, *, slow: int = 0, quickack: bool | None = None, pad: int = 0) -> None:
        quickack = QUICKACK if quickack is None else quickack
        self.spec, self.n, self.slow, self.quickack, self.pad = spec, n, slow, quickack, pad
        self.server: Server | None = None
        self.fleet: Fleet | None = None
        self.joins: list[dict] = []

    def up(self, *, storm: bool = False) -> JoinResult:
        assert self.spec.dialect is not None
        self.server = Server(self.spec).start()
        self.fleet = Fleet(
            self.spec.dialect, self.server.port, self.n, quickack=self.quickack, slow=self.slow, pad=self.pad
        )
        # Setting up a room is not what is measured: pace it for every server. The storm is unpaced
        # unless the server's listen backlog needs it (then the result says so).
        pacing = self.spec.join_pacing if storm else (self.spec.join_pacing or SETUP_PACING)
        result = self.fleet.join(paced=pacing, timeout=JOIN_TIMEOUT)
        self.joins.append({**result.as_dict(), "paced": pacing})
        self.fleet.start_run_phase()
        self.fleet.settle()
        return result

    def healthy(self) -> bool:
        return (
            self.server is not None
            and self.server.alive()
            and self.fleet is not None
            and len(self.fleet.live) == self.n
        )

    def ensure(self) -> None:
        if not self.healthy():
            self.down()
            self.up()

    def down(self) -> None:
        if self.fleet is not None:
            self.fleet.close()
            self.fleet = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    def step(self, rate: float, seconds: float, **kw) -> dict:
        """One measured step; a slow rate runs long enough to send ``MIN_STEP_MESSAGES``."""
        assert self.fleet is not None and self.server is not None
        seconds = max(seconds, min(STEP_LIMITS["min_messages"] / rate, STEP_LIMITS["max_seconds"]))
        cpu0 = self.server.cpu_seconds() or 0.0
        measured = self.fleet.step(rate, seconds, **kw)
        result: dict = {"error": "no live members left"} if measured is None else measured.as_dict()
        cpu1 = self.server.cpu_seconds() or 0.0
        result["server_cpu"] = round((cpu1 - cpu0) / max(result.get("wall_s", seconds), 1e-9), 3)
        result["server_rss_kb"] = self.server.rss_kb()
        result.update(machine_load())
        self.fleet.settle(quiet=0.1, timeout=2.0)
        return result


def machine_load() -> dict:
    """How busy the whole machine was at the end of a step: other processes compete for the cores."""
    try:
        fields = Path("/proc/loadavg").read_text().split()
    except OSError:
        return {}
    return {"loadavg_1m": float(fields[0]), "runnable": int(fields[3].split("/")[0])}


@contextmanager
def rig(spec: ServerSpec, n: int, **kw) -> Iterator[ChatRig]:
    r = ChatRig(spec, n, **kw)
    try:
        yield r
    finally:
        r.down()


def usable(plan: Plan, name: str, n: int) -> str | None:
    """Why a server is skipped at this size, or None."""
    spec = CHAT_SERVERS[name]
    if spec.irc_penalties is not None and not ngircd.available():
        return "ngircd not installed (apt-get install ngircd)"
    if spec.irc_penalties and n > plan.stock_ngircd_max_members:
        return f"stock ngircd holds each login for about a second: measured up to {plan.stock_ngircd_max_members}"
    return None


def rate_cap(spec: ServerSpec, n: int) -> float | None:
    """Stock ngircd: the room may send at most n × (its per-client limit) messages/s."""
    return None if spec.per_client_rate is None else n * spec.per_client_rate


# ---- fan-out ----------------------------------------------------------------------------


def fanout(plan: Plan, log: Callable[[str], None]) -> dict:
    """Per size: a fixed-rate point, then the rate search, for every server; repeated at the headline size."""
    out: dict = {"fixed_rate_msgs": plan.fixed_rate_msgs, "sizes": {}}
    for n in plan.fanout_sizes:
        reps = plan.reps if n == plan.headline_size else 1
        per_server: dict[str, dict] = {name: {"fixed": [], "search": []} for name in plan.servers}
        for rep in range(reps):
            for name in interleaved(plan.servers, rep):
                why = usable(plan, name, n)
                if why:
                    per_server[name] = {"skipped": why}
                    continue
                log(f"fan-out N={n} {name} (repetition {rep + 1}/{reps})")
                try:
                    per_server[name]["fixed"].append(_fixed_and_search(plan, name, n, per_server[name]["search"]))
                except RuntimeError as exc:  # e.g. the server could not start on a swamped machine
                    log(f"fan-out N={n} {name}: {exc}")
                    per_server[name].setdefault("errors", []).append(str(exc))
        for res in per_server.values():
            if "skipped" not in res:
                res["max_sustained_dps"] = [s["max_sustained_dps"] for s in res["search"]]
                res["max_sustained_dps_median"] = _median(res["max_sustained_dps"])
                res["noise_pct"] = _spread_pct(res["max_sustained_dps"])
        out["sizes"][str(n)] = per_server
    return out


def _fixed_and_search(plan: Plan, name: str, n: int, searches: list) -> dict:
    spec = CHAT_SERVERS[name]
    with rig(spec, n) as r:
        r.up()
        fixed = r.step(plan.fixed_rate_msgs, plan.step_seconds)
        searches.append(search_max(r, plan, n))
        fixed["join"] = r.joins[0]
        return fixed


def search_max(r: ChatRig, plan: Plan, n: int) -> dict:
    """The highest sustained rate: double until a step fails, then climb from the last pass in finer steps.

    If even the first step fails, halve until one passes. Stock ngircd stops at its flood limit.
    """
    cap = rate_cap(r.spec, n)
    rate = SEARCH_START_DPS / (n - 1)
    if cap is not None:
        rate = min(rate, cap / 4)
    steps: list[dict] = []
    best: dict | None = None
    factor = COARSE_FACTOR
    while len(steps) < plan.max_search_steps and rate * (n - 1) <= SEARCH_MAX_DPS:
        for attempt in range(1 + CONFIRM_FAILURES):
            r.ensure()
            step = r.step(rate, plan.step_seconds)
            step["sustained"] = sustained(step)
            step["attempt"] = attempt + 1
            steps.append(step)
            if step["sustained"]:
                break
        if step["sustained"]:
            best = step
            if cap is not None and rate >= cap:
                break
            rate = rate * factor if cap is None else min(cap, rate * factor)
        elif best is None:
            rate /= COARSE_FACTOR  # not even the first: come down until one passes
        elif factor == COARSE_FACTOR:
            factor = FINE_FACTOR
            rate = best["rate_msgs"] * factor
        else:
            break
    return {
        "max_sustained_msgs": best["rate_msgs"] if best else 0,
        "max_sustained_dps": best["achieved_dps"] if best else 0,
        "capped_by_flood_limit": bool(cap is not None and best is not None and best["rate_msgs"] >= cap),
        # No confirmed failure above the best rate (the search ran out of steps or range): the true maximum is higher.
        "lower_bound": bool(
            best is not None
            and cap is None
            and not any(
                not s["sustained"] and s["attempt"] > CONFIRM_FAILURES and s["rate_msgs"] > best["rate_msgs"]
                for s in steps
            )
        ),
        "steps": steps,
        "gen_saturated_any": any(s.get("gen_saturated") for s in steps),
    }


def half_peer_latency(plan: Plan, fan: dict, log: Callable[[str], None]) -> dict:
    """Every server at half of ngircd's (penalties off) maximum rate: p99 side by side."""
    n = plan.headline_size
    peer = fan.get("sizes", {}).get(str(n), {}).get("ngircd-nopenalty", {})
    peer_max = peer.get("max_sustained_dps_median")
    if not peer_max:
        return {"skipped": "no ngircd-nopenalty maximum at this size"}
    rate = peer_max / 2 / (n - 1)
    out: dict = {"members": n, "rate_msgs": round(rate, 1), "offered_dps": round(rate * (n - 1)), "servers": {}}
    names = [s for s in plan.servers if CHAT_SERVERS[s].per_client_rate is None]
    for rep in range(plan.reps):
        for name in interleaved(tuple(names), rep):
            log(f"half of ngircd's maximum: {name} (repetition {rep + 1}/{plan.reps})")
            with rig(CHAT_SERVERS[name], n) as r:
                r.up()
                step = r.step(rate, plan.step_seconds)
            step["sustained"] = sustained(step)
            out["servers"].setdefault(name, []).append(step)
    for name, steps in out["servers"].items():
        out.setdefault("p99_ms_median", {})[name] = _median([s["p99_ms"] for s in steps if s["p99_ms"] is not None])
    return out


# ---- Nagle and delayed ACKs --------------------------------------------------------------


def nagle(plan: Plan, log: Callable[[str], None]) -> dict:
    """A light load with and without TCP_QUICKACK on the generator's sockets."""
    out: dict = {"members": plan.nagle.clients, "rate_msgs": plan.nagle.rate_msgs, "servers": {}}
    for name in plan.servers:
        if usable(plan, name, plan.nagle.clients):
            continue
        for quickack in (False, True):
            log(f"nagle/delayed-ACK: {name} quickack={quickack}")
            with rig(CHAT_SERVERS[name], plan.nagle.clients, quickack=quickack) as r:
                r.up()
                step = r.step(plan.nagle.rate_msgs, plan.step_seconds * 2)
            out["servers"].setdefault(name, {})["quickack" if quickack else "default"] = step
    return out


# ---- slow consumer -------------------------------------------------------------------------


class Sampler:
    """Once a second during the slow-consumer run: the server's RSS and the readers' delivery rate."""

    def __init__(self, server: Server, fleet: Fleet) -> None:
        self.server, self.fleet = server, fleet
        self.samples: list[dict] = []
        self.last = (0, time.monotonic())

    def sample(self, t: float) -> None:
        now, got = time.monotonic(), self.fleet.got_total
        rate = (got - self.last[0]) / (now - self.last[1])
        self.last = (got, now)
        self.samples.append({"t": round(t, 1), "rss_kb": self.server.rss_kb(), "reader_dps": round(rate)})


def slow_consumer(plan: Plan, log: Callable[[str], None]) -> dict:
    """N readers plus one member that never reads: the readers' rate against a run where it reads."""
    out: dict = {"readers": plan.slow.clients, "rate_msgs": plan.slow.rate_msgs, "line_pad": SLOW_PAD, "servers": {}}
    for name in plan.servers:
        if usable(plan, name, plan.slow.clients + 1) or CHAT_SERVERS[name].per_client_rate is not None:
            continue
        seconds = plan.slow.seconds if name == "socklab" else plan.slow_seconds_peers
        log(f"slow consumer: {name} for {seconds:g} s")
        # Lines as long as real chat lines, so the slow member's backlog outgrows the kernel's buffers.
        with rig(CHAT_SERVERS[name], plan.slow.clients + 1, slow=1, pad=SLOW_PAD) as r:
            r.up()
            assert r.fleet is not None and r.server is not None
            baseline = r.step(plan.slow.rate_msgs, plan.step_seconds)
            r.fleet.freeze_slow()
            sampler = Sampler(r.server, r.fleet)
            start = time.monotonic()
            run = r.step(plan.slow.rate_msgs, seconds, on_second=sampler.sample)
            slow = r.fleet.read_slow()
            left = [round(t - start, 2) for t in r.fleet.leave_events(r.fleet.members[-1].name)]
            samples = sampler.samples
        kept = run["achieved_dps"] / baseline["achieved_dps"] * 100 if baseline["achieved_dps"] else 0.0
        out["servers"][name] = {
            "seconds": seconds,
            "baseline": baseline,
            "with_slow": run,
            "kept_pct": round(kept, 1),
            "rss_series": samples,
            "rss_end_kb": run.get("server_rss_kb"),
            "rss_max_kb": max((s["rss_kb"] or 0 for s in samples), default=run.get("server_rss_kb")),
            "stalled_seconds": sum(1 for s in samples if s["reader_dps"] == 0),
            "slow_member": slow["slow_members"][0] if slow["slow_members"] else None,
            "others_told_it_left_at_s": left[:1],
        }
    return out


# ---- idle room and join storm --------------------------------------------------------------


def join_and_idle(plan: Plan, log: Callable[[str], None]) -> dict:
    """N members connect and log in at once (paced where a server's backlog needs it), then stay silent."""
    n = plan.idle.clients
    out: dict = {"members": n, "servers": {}}
    for name in plan.servers:
        why = usable(plan, name, n)
        if why:
            out["servers"][name] = {"skipped": why}
            continue
        log(f"join storm + idle: {name}, {n} members")
        with rig(CHAT_SERVERS[name], n) as r:
            r.server = Server(r.spec).start()
            empty = r.server.rss_kb()
            r.server.stop()
            r.server = None
            join = r.up(storm=True)
            time.sleep(1.0)  # idle: nothing happens, memory settles
            assert r.server is not None
            out["servers"][name] = {
                "join": r.joins[-1],
                "join_seconds": None if join.seconds is None else round(join.seconds, 3),
                "rss_empty_kb": empty,
                "rss_idle_kb": r.server.rss_kb(),
                "threads": r.server.threads(),
            }
    return out


# ---- calculator and date/time ----------------------------------------------------------------


def calc(plan: Plan, log: Callable[[str], None]) -> dict:
    log(f"calculator: {plan.calc.clients} sessions for {plan.calc.seconds:g} s")
    return _request_load(CALC, plan.calc.seconds, request_load.calc_load, plan.calc.clients)


def datetime(plan: Plan, log: Callable[[str], None]) -> dict:
    log(f"date/time: {plan.datetime.clients} UDP sockets for {plan.datetime.seconds:g} s")
    return _request_load(DATETIME, plan.datetime.seconds, request_load.datetime_load, plan.datetime.clients)


def _request_load(spec: ServerSpec, seconds: float, load: Callable[[int, int, float], dict], clients: int) -> dict:
    """``load(port, clients, seconds)`` against a fresh server, plus the server's CPU share and memory."""
    with Server(spec) as srv:
        cpu0 = srv.cpu_seconds() or 0.0
        res = load(srv.port, clients, seconds)
        res["server_cpu"] = round(((srv.cpu_seconds() or 0.0) - cpu0) / seconds, 3)
        res["server_rss_kb"] = srv.rss_kb()
    return res


# ---- the container lab -------------------------------------------------------------------------

#: The lab is started under its own project, subnet and bridge, so the benchmark never touches a
#: lab someone else on the machine is using.
LAB_ENV = {"SOCKLAB_PROJECT": "socklab-bench", "SOCKLAB_NET_PREFIX": "172.29.93", "SOCKLAB_BRIDGE": "sockbench0"}
LAB_TIMEOUT = 600


def lab(plan: Plan, log: Callable[[str], None], *, cold: bool = False) -> dict:
    if not plan.lab:
        return {"skipped": "not in --smoke (needs Docker; part of the full run)"}
    lab_cmd = [str(ROOT / "scripts" / "lab")]
    env = {**os.environ, **LAB_ENV}
    out: dict = {"project": LAB_ENV["SOCKLAB_PROJECT"]}

    def timed_up(label: str) -> dict:
        log(f"lab: scripts/lab up ({label})")
        t0 = time.monotonic()
        done = subprocess.run([*lab_cmd, "up"], env=env, capture_output=True, text=True, timeout=LAB_TIMEOUT)
        seconds = time.monotonic() - t0
        res = {"seconds": round(seconds, 2), "exit": done.returncode}
        if done.returncode != 0:
            res["error"] = (done.stderr.strip().splitlines() or ["?"])[-1]
        down = subprocess.run([*lab_cmd, "down"], env=env, capture_output=True, text=True, timeout=LAB_TIMEOUT)
        res["down_exit"] = down.returncode
        return res

    try:
        # The first up builds the image if the code changed; only the second is the warm figure.
        out["prepare"] = timed_up("prepare")
        out["warm"] = timed_up("warm")
        if cold:
            for image in ("socklab:latest", "socklab-base:bookworm"):
                subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True)
            out["cold"] = timed_up("cold: images removed")
        else:
            out["cold"] = {
                "skipped": "needs --cold: it deletes the lab's images, which other users of this machine may be using"
            }
    except (OSError, subprocess.TimeoutExpired) as exc:
        out["error"] = str(exc)
    return out


def _median(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _spread_pct(values: list) -> float | None:
    vals = [v for v in values if v]
    if len(vals) < 2:
        return None
    return round(100 * (max(vals) - min(vals)) / statistics.median(vals), 1)


SCENARIOS = ("fanout", "half_peer", "nagle", "slow", "join_idle", "calc", "datetime", "lab")
