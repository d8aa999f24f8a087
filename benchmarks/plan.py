"""How big and how long the benchmark runs: the documented full run, and the tiny CI smoke."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """How big and how long; ``full()`` for the documented run, ``smoke()`` for CI."""

    name: str
    servers: tuple[str, ...]
    fanout_sizes: tuple[int, ...]
    fixed_rate_msgs: float  # messages/s in the fixed-rate fan-out point (stock ngircd must keep up too)
    step_seconds: float
    search_sizes: tuple[int, ...]
    headline_size: int  # the size the targets are about
    reps: int
    max_search_steps: int
    nagle_members: int
    nagle_rate_msgs: float
    slow_members: int
    slow_rate_msgs: float
    slow_seconds: float
    slow_seconds_peers: float
    idle_members: int
    calc_sessions: int
    calc_seconds: float
    datetime_sockets: int
    datetime_seconds: float
    lab: bool
    stock_ngircd_max_members: int
    min_step_messages: int = 20
    max_step_seconds: float = 5.0

    @staticmethod
    def full() -> Plan:
        return Plan(
            name="full",
            servers=("socklab", "ngircd-nopenalty", "threaded", "ngircd"),
            fanout_sizes=(100, 500, 1000),
            fixed_rate_msgs=100,
            step_seconds=2.0,
            search_sizes=(100, 500, 1000),
            headline_size=500,
            reps=2,
            max_search_steps=18,
            nagle_members=100,
            nagle_rate_msgs=100,
            slow_members=100,
            slow_rate_msgs=1000,
            slow_seconds=60,
            slow_seconds_peers=30,
            idle_members=1000,
            calc_sessions=200,
            calc_seconds=5,
            datetime_sockets=16,
            datetime_seconds=5,
            lab=True,
            stock_ngircd_max_members=100,
        )

    @staticmethod
    def smoke() -> Plan:
        return Plan(
            name="smoke",
            servers=("socklab", "ngircd-nopenalty", "threaded", "ngircd"),
            fanout_sizes=(10,),
            fixed_rate_msgs=10,
            step_seconds=0.3,
            search_sizes=(10,),
            headline_size=10,
            reps=1,
            max_search_steps=2,
            nagle_members=5,
            nagle_rate_msgs=5,
            slow_members=5,
            slow_rate_msgs=50,
            slow_seconds=1.0,
            slow_seconds_peers=1.0,
            idle_members=20,
            calc_sessions=5,
            calc_seconds=0.5,
            datetime_sockets=2,
            datetime_seconds=0.5,
            lab=False,
            stock_ngircd_max_members=10,
            min_step_messages=3,
            max_step_seconds=1.0,
        )
