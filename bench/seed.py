"""Seeding through the applications' own services, so the rows (and the waiting line in Redis)
are exactly what the app would write. Runs in the orchestrator process, with Django set up on
the server's settings and database.

Only what cannot go through the services in reasonable time (a million-row line, 100,000
lapsed holds, everyone leaving the line at once) is written in SQL, in bench/fixtures.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

from django.core.management import call_command
from django.db import transaction

from apps.accounts.models import User
from apps.accounts.services import user_create
from apps.payments.services import payment_create
from apps.queue.services import queue_state_update, queue_token_issue
from apps.queue.tokens import token_for
from apps.reservations.services import reservation_hold
from apps.wallet.services import wallet_charge
from bench import fixtures

PRICE = 150_000
SEATS = 50


@dataclasses.dataclass(frozen=True)
class Concert:
    id: int
    dates: list[dt.date]
    map_date: dt.date  # the dressed seat map (scenario 2, the one-seat rush); the rest are for the rush
    dress: dict  # seats held and sold on map_date


def concert_seed(*, title: str, dates: list[dt.date], seats: int = SEATS) -> int:
    """A concert through the concerts app's own command; returns its id."""
    out = io.StringIO()
    call_command(
        "seed_concert",
        "--title",
        title,
        "--venue",
        "Bench Hall",
        "--dates",
        *[d.isoformat() for d in dates],
        "--seats",
        str(seats),
        "--price",
        str(PRICE),
        stdout=out,
    )
    return int(out.getvalue().strip().splitlines()[-1])


def rush_concert_seed(*, dates: int) -> Concert:
    """The concert most scenarios share: `dates` dates of 50 seats from 30 days on; on the first,
    2 users hold 4 seats each and 3 users buy 4 each (8 held, 12 sold)."""
    first = dt.date.today() + dt.timedelta(days=30)
    days = [first + dt.timedelta(days=i) for i in range(dates)]
    concert_id = concert_seed(title="Bench rush", dates=days)
    dressers = users_create("dress_", 5)
    tokens_issue(dressers)
    dress = seat_map_dress(concert_id=concert_id, date=days[0], held_by=dressers[:2], sold_by=dressers[2:])
    return Concert(id=concert_id, dates=days, map_date=days[0], dress=dress)


def users_create(prefix: str, count: int) -> list[dict]:
    """Users with their API keys, through the signup service."""
    users = []
    for start in range(0, count, 500):
        with transaction.atomic():
            for i in range(start, min(count, start + 500)):
                user, key = user_create(username=f"{prefix}{i}")
                users.append({"user_id": user.pk, "api_key": key, "username": user.username})
    return users


def queue_reset() -> None:
    """Everyone leaves the line (in SQL: the line may hold a million entries), the staff's
    controls go back to their defaults, and the line in Redis is rebuilt from that: empty."""
    fixtures.queue_entries_end_all()
    fixtures.line_rebuild()
    queue_state_update(active_limit=None, paused=False)


def active_limit_set(limit: int | None) -> None:
    queue_state_update(active_limit=limit, paused=False)


def tokens_issue(users: list[dict]) -> None:
    """Take a queue token for each user (the service, as the API does); adds token/status."""
    for u in users:
        entry, place, _ = queue_token_issue(user=User(pk=u["user_id"]))
        u["token"], u["status"], u["entry_id"] = token_for(entry), place.status, entry.pk


def wallets_charge(users: list[dict], amount: int) -> None:
    for u in users:
        wallet_charge(user=User(pk=u["user_id"]), amount=amount)


def seat_map_dress(*, concert_id: int, date: dt.date, held_by: list[dict], sold_by: list[dict]) -> dict:
    """Hold 4 seats for each of `held_by` and hold-and-pay 4 seats for each of `sold_by`."""
    seat, held, sold = 1, 0, 0
    for u in held_by:
        for _ in range(4):
            reservation_hold(user=User(pk=u["user_id"]), concert_id=concert_id, date=date, seat_number=seat)
            seat, held = seat + 1, held + 1
    for u in sold_by:
        user = User(pk=u["user_id"])
        wallet_charge(user=user, amount=PRICE * 4)
        ids = []
        for _ in range(4):
            ids.append(reservation_hold(user=user, concert_id=concert_id, date=date, seat_number=seat).pk)
            seat, sold = seat + 1, sold + 1
        payment_create(user=user, reservation_ids=ids, queue_entry_id=u["entry_id"])
    return {"held": held, "sold": sold}
