"""The scenarios, one module each: `NUMBER` (what `--only` takes) and `run(bench)`, which seeds
what it needs, drives the server through the harness (bench/harness.py) and adds its rows.
Their targets are in bench/targets.py.
"""

from bench.scenarios import (
    memory,
    one_seat_rush,
    queue_poll,
    queue_scale,
    request_costs,
    seat_map,
    spread_rush,
    sweeper,
    token_issue,
)

# In run order. The million-entry line (6) comes after the sweeper (7), so that no other
# scenario runs with it in the tables.
SCENARIOS = [
    (module.NUMBER, module.run)
    for module in (
        queue_poll,
        seat_map,
        token_issue,
        one_seat_rush,
        spread_rush,
        sweeper,
        queue_scale,
        memory,
        request_costs,
    )
]
