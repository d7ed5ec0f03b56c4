"""Scenario 5: the spread rush. Users with money hold random free seats over many dates up to the
hold limit, pay (with an Idempotency-Key), take a new queue token, wait to be admitted, and
repeat until every seat is sold. Then the books are checked in SQL: no seat sold twice, no
negative balance, charges = balances + payments. The rate judged is holds/s against the floor
(same driver and connections), measured just before and just after."""

from __future__ import annotations

from django.conf import settings

from bench.harness import cpu_delta
from bench.rows import Row, count_status, merge, transport_errors
from bench.targets import TARGETS

NUMBER = "5"
BALANCE = 10_000_000


def run(bench) -> None:
    seed, checks, sizes, concert = bench.seed, bench.checks, bench.sizes, bench.concert
    target = TARGETS["5"]
    bench.queue_reset()
    users = seed.users_create("rush_", sizes.rush_users)
    seed.wallets_charge(users, BALANCE)
    seed.tokens_issue(users)
    assert all(u["status"] == "ACTIVE" for u in users), "rush users must all be admitted"
    seats = [[concert.id, d.isoformat(), n] for d in concert.dates[1 : 1 + sizes.rush_dates] for n in range(1, 51)]
    floor_before = bench.floor("5", conns=sizes.rush_users, tool="py", duration=sizes.slice_s * 2)
    spec = {
        "mode": "rush",
        "users": [{k: u[k] for k in ("user_id", "api_key", "token")} for u in users],
        "seats": seats,
        "max_holds": settings.MAX_HOLDS_PER_USER,
        "duration": sizes.rush_duration,
        "max_requests": 200_000,
    }
    bench.watch.wait_quiet()
    with bench.profiling("5-rush", min(sizes.rush_duration, 10)):
        cpu_before = bench.cpu_snapshot([bench.app])
        out = bench.run_py("5-rush", spec, timeout=sizes.rush_duration + 120)
        cpu_after = bench.cpu_snapshot([bench.app])
    floor_after = bench.floor("5", conns=sizes.rush_users, tool="py", duration=sizes.slice_s * 2)
    floor = merge([floor_before, floor_after])
    holds = out["kinds"]["hold"]
    holds["rps"] = holds["requests"] / out["elapsed_s"]
    holds["tool"], holds["conns"] = "py", sizes.rush_users
    # CPU of the whole flow (holds, payments, new tokens, polls) per hold request.
    holds["cpu_app_s"] = cpu_delta(cpu_before, cpu_after, "app")
    holds["cpu_db_s"] = cpu_delta(cpu_before, cpu_after, "db")
    books = checks.books_check()
    problems = list(books["problems"])
    unexpected = {k: v for k, v in out["outcome"].items() if "unexpected" in k or "not_admitted" in k}
    if unexpected:
        problems.append(f"unexpected answers {unexpected}")
    paid = out["paid_reservation_ids"]
    confirmed = checks.confirmed_count(paid) if paid else 0
    if confirmed != len(paid) or len(set(paid)) != len(paid):
        problems.append(f"{len(paid)} reservations paid per the client, {confirmed} CONFIRMED in the database")
    for kind in ("pay", "token", "poll"):
        k = out["kinds"][kind]
        if count_status(k, lambda s: s >= 500) or transport_errors(k):
            problems.append(f"{kind}: {k['statuses']} errors {k['errors']}")
    ratio = holds["rps"] / floor["rps"]
    pay = out["kinds"]["pay"]
    bench.add(
        Row(
            id="5",
            name=f"spread rush: {sizes.rush_users} users hold + pay over {sizes.rush_dates} dates",
            tool="py",
            conns=sizes.rush_users,
            result=holds,
            floor=floor,
            target=target.text(),
            verdict="PASS" if ratio >= target.min_floor_ratio and not problems else "FAIL",
            measured=f"{holds['rps']:.0f} holds/s = {ratio:.2f} x floor",
            problems=problems,
            notes=[
                f"outcome {out['outcome']}",
                f"payments: {pay['requests']} (p50 {pay['p50_ms'] or 0:.1f} ms, p99 {pay['p99_ms'] or 0:.1f} ms);"
                f" seats left {out['seats_left_in_pool']}",
                f"books: charges {books['charges']:,} = balances {books['balances']:,}"
                f" + payments {books['payments']:,};"
                f" min balance {books['min_balance']:,}; {books['confirmed_reservations']} seats sold, none twice",
            ],
        )
    )
    # Not through add(): its 5xx and errors are judged above, with the rest of the flow.
    bench.rows.append(
        Row(
            id="5p",
            name="  (spread rush: its payments)",
            tool="py",
            conns=sizes.rush_users,
            result={**pay, "rps": pay["requests"] / out["elapsed_s"], "tool": "py", "conns": sizes.rush_users},
        )
    )
    bench.queue_reset()
