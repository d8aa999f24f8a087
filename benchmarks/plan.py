"""How big and how long the benchmark runs: the documented full run, and the tiny CI smoke."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Load:
    """One scenario's crowd: how many clients (chat members, calculator sessions, UDP sockets),
    for how long and at what rate, where the scenario has one."""

    clients: int
    seconds: float = 0.0
    rate_msgs: float = 0.0  # messages/s sent into the room


@dataclass(frozen=True)
class Plan:
    """How big and how long. The defaults are the documented full run (``full()``); ``smoke()`` is CI's."""

    name: str = "full"
    servers: tuple[str, ...] = ("socklab", "ngircd-nopenalty", "threaded", "ngircd")
    fanout_sizes: tuple[int, ...] = (100, 500, 1000)
    fixed_rate_msgs: float = 100  # messages/s in the fixed-rate fan-out point (stock ngircd must keep up too)
    step_seconds: float = 2.0
    search_sizes: tuple[int, ...] = (100, 500, 1000)
    headline_size: int = 500  # the size the targets are about
    reps: int = 2
    max_search_steps: int = 18
    nagle: Load = Load(100, rate_msgs=100)
    slow: Load = Load(100, seconds=60, rate_msgs=1000)  # seconds: socklab's run
    slow_seconds_peers: float = 30  # the other servers' run
    idle: Load = Load(1000)
    calc: Load = Load(200, seconds=5)  # sessions
    datetime: Load = Load(16, seconds=5)  # UDP sockets
    lab: bool = True
    stock_ngircd_max_members: int = 100
    min_step_messages: int = 20
    max_step_seconds: float = 5.0

    @staticmethod
    def full() -> Plan:
        return Plan()

    @staticmethod
    def smoke() -> Plan:
        """Every scenario, tiny and short: a check that it works, not a timing."""
        return Plan(
            name="smoke",
            fanout_sizes=(10,),
            fixed_rate_msgs=10,
            step_seconds=0.3,
            search_sizes=(10,),
            headline_size=10,
            reps=1,
            max_search_steps=2,
            nagle=Load(5, rate_msgs=5),
            slow=Load(5, seconds=1.0, rate_msgs=50),
            slow_seconds_peers=1.0,
            idle=Load(20),
            calc=Load(5, seconds=0.5),
            datetime=Load(2, seconds=0.5),
            lab=False,
            stock_ngircd_max_members=10,
            min_step_messages=3,
            max_step_seconds=1.0,
        )
