"""What every load generator measures the same way: the clock, latency percentiles, its own CPU share."""

from __future__ import annotations

import time

#: Every server under test listens on loopback.
HOST = "127.0.0.1"
#: Bytes taken from a socket per receive.
RECV_SIZE = 1 << 16
#: The generator counts as saturated (possibly the limit) above this share of a core.
GEN_SATURATED = 0.9


def now_us() -> int:
    """The monotonic clock in µs: send and receive times come from it, in the same process."""
    return time.monotonic_ns() // 1000


def percentile(sorted_values: list[int], q: float) -> int | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def latency_summary(samples: list[int]) -> dict[str, float | None]:
    """p50/p99/max in milliseconds from samples in µs."""
    s = sorted(samples)
    ms = {k: percentile(s, q) for k, q in (("p50_ms", 0.50), ("p99_ms", 0.99))}
    ms["max_ms"] = s[-1] if s else None
    return {k: (round(v / 1000, 3) if v is not None else None) for k, v in ms.items()}


def generator_load(cpu_seconds: float, wall_seconds: float) -> dict[str, float | bool]:
    """The generator's own share of a core, and whether it was saturated (so the figure is suspect)."""
    share = cpu_seconds / wall_seconds if wall_seconds else 0.0
    return {"gen_cpu": round(share, 3), "gen_saturated": share > GEN_SATURATED}
