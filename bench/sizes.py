"""How big each scenario is: the full run, and the smoke run CI does (every scenario, tiny)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Sizes:
    duration: float  # seconds of a single closed-loop run
    slices: int  # a paired measurement alternates this many floor and scenario slices
    slice_s: float  # seconds per slice
    conns: int  # connections of the throughput runs (the seat-map target is at 32)
    poll_active: int
    poll_waiting: int
    issue_users: int  # each issues once per row (3a, 3b, 3c), the same users again after a reset
    issue_servers: int  # rows 3a.. : 1, 2, ... this many gunicorn servers
    rush_one_seat: int
    rush_users: int
    rush_dates: int
    rush_duration: float
    line_small: int
    line_big: int
    line_conns: int
    line_sample: int
    lapsed_holds: int
    sweep_conns: int
    probe_repeat: int


FULL = Sizes(
    duration=10,
    slices=5,
    slice_s=2,
    conns=32,
    poll_active=100,
    poll_waiting=400,
    issue_users=10_000,  # 10 s of issues per row, and those in flight at each slice's end
    issue_servers=3,
    rush_one_seat=500,
    rush_users=100,
    rush_dates=20,
    rush_duration=60,
    line_small=100,
    line_big=1_000_000,
    line_conns=4,
    line_sample=100,
    lapsed_holds=100_000,
    sweep_conns=8,
    probe_repeat=30,
)
SMOKE = Sizes(
    duration=1,
    slices=1,
    slice_s=1,
    conns=8,
    poll_active=5,
    poll_waiting=10,
    issue_users=150,
    issue_servers=3,
    rush_one_seat=40,
    rush_users=10,
    rush_dates=1,
    rush_duration=10,
    line_small=100,
    line_big=2_000,
    line_conns=2,
    line_sample=20,
    lapsed_holds=2_000,
    sweep_conns=4,
    probe_repeat=8,
)
