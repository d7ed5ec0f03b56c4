"""Seeding and checks, straight into the bench database (never over HTTP).

Runs in the orchestrator process with Django set up on the same settings as the server.
Small amounts go through the application's own services (users, API keys, queue tokens, holds,
payments), so the rows are exactly what the app would write; the big tables of scenarios 6 and
7 are written with set-based SQL.
"""

from __future__ import annotations

import datetime as dt
import io
import time

from django.core.management import call_command
from django.db import connection, transaction

from apps.accounts.models import User
from apps.accounts.services import user_create
from apps.payments.services import payment_create
from apps.queue.models import QueueEntry
from apps.queue.services import queue_line_rebuild, queue_state_update, queue_token_issue
from apps.queue.tokens import token_for
from apps.reservations.services import reservation_hold
from apps.wallet.services import wallet_charge

PRICE = 150_000


def concert_seed(*, title: str, dates: list[dt.date], seats: int = 50) -> int:
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
    """Everyone leaves the line: every live entry ended in PostgreSQL, the default limit
    restored, and the line in Redis rebuilt from that (empty)."""
    wait_quiet()
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE queue_queueentry SET status = 'EXPIRED', ended_at = now() WHERE status IN ('WAITING', 'ACTIVE')"
        )
    queue_state_update(active_limit=None, paused=False)
    queue_line_rebuild()


def db_backend_pids() -> list[int]:
    """PostgreSQL backends connected to the bench database, except this process's own."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        )
        return [row[0] for row in cur.fetchall()]


def wait_quiet(timeout: float = 30.0) -> bool:
    """Wait until no other session of the bench database runs a query or holds a transaction
    open for a few checks in a row: requests still in flight when a load run stopped finish
    before the next step reads or writes."""
    deadline, calm = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'"
            )
            busy = cur.fetchone()[0]
        calm = 0 if busy else calm + 1
        if calm >= 3:
            return True
        time.sleep(0.05)
    return False


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


# --- Scenario 6: a long line, written with SQL -------------------------------------------------


def line_seed(*, prefix: str, first: int, count: int, status: str) -> None:
    """`count` users named prefix+N and one queue entry each at the end of the line, in SQL,
    then the line in Redis rebuilt from PostgreSQL: ACTIVE entries take slots, WAITING ones
    queue in id order."""
    active = status == "ACTIVE"
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            WITH new_users AS (
                INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email,
                                           is_staff, is_active, date_joined)
                SELECT '!', false, %s || g, '', '', '', false, true, now()
                FROM generate_series(%s::bigint, %s::bigint) AS g
                RETURNING id
            )
            INSERT INTO queue_queueentry (nonce, status, created_at, admitted_at, expires_at, user_id)
            SELECT substr(md5(random()::text), 1, 22), %s, now(),
                   CASE WHEN %s THEN now() END, CASE WHEN %s THEN now() + interval '1 day' END, id
            FROM new_users ORDER BY id
            """,
            [prefix, first, first + count - 1, status, active, active],
        )
        inserted = cur.rowcount
    if inserted != count:
        raise RuntimeError(f"line_seed inserted {inserted} entries, expected {count}")
    queue_line_rebuild()


def analyze(*tables: str) -> None:
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f"ANALYZE {table}")


def line_sample_tokens(*, status: str, count: int) -> list[str]:
    """Tokens of `count` entries of this status spread evenly through the line."""
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH numbered AS (
                SELECT id, nonce, ntile(%s) OVER (ORDER BY id) AS bucket
                FROM queue_queueentry WHERE status = %s
            )
            SELECT DISTINCT ON (bucket) id, nonce FROM numbered ORDER BY bucket, id
            """,
            [count, status],
        )
        rows = cur.fetchall()
    return [token_for(QueueEntry(pk=pk, nonce=nonce)) for pk, nonce in rows]


def line_counts() -> dict:
    with connection.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM queue_queueentry GROUP BY status")
        return dict(cur.fetchall())


# --- Scenario 7: lapsed holds, written with SQL ------------------------------------------------


def lapsed_holds_seed(*, count: int, user_id: int, first_date: dt.date) -> dict:
    """A concert with count/50 dates of 50 seats and one lapsed HELD reservation per seat."""
    ndates = -(-count // 50)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO concerts_concert (title, venue, created_at) VALUES ('Sweep bench ' || %s, 'Bench Hall', now())"
            " RETURNING id",
            [first_date.isoformat()],
        )
        (concert_id,) = cur.fetchone()
        cur.execute(
            "INSERT INTO concerts_concertdate (date, concert_id)"
            " SELECT %s::date + g, %s FROM generate_series(0, %s) AS g",
            [first_date, concert_id, ndates - 1],
        )
        cur.execute(
            "INSERT INTO concerts_seat (number, price, concert_date_id)"
            " SELECT n, %s, d.id FROM concerts_concertdate d, generate_series(1, 50) AS n WHERE d.concert_id = %s",
            [PRICE, concert_id],
        )
        cur.execute(
            """
            INSERT INTO reservations_reservation (price, status, created_at, expires_at, seat_id, user_id)
            SELECT %s, 'HELD', now() - interval '10 minutes', now() - interval '5 minutes', s.id, %s
            FROM concerts_seat s JOIN concerts_concertdate d ON d.id = s.concert_date_id
            WHERE d.concert_id = %s ORDER BY s.id LIMIT %s
            """,
            [PRICE, user_id, concert_id, count],
        )
        inserted = cur.rowcount
    analyze("concerts_seat", "concerts_concertdate", "reservations_reservation")
    return {"concert_id": concert_id, "dates": ndates, "holds": inserted}


def lapsed_holds_left() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM reservations_reservation WHERE status = 'HELD' AND expires_at <= now()")
        return cur.fetchone()[0]


# --- Scenario 5: the books after the rush ------------------------------------------------------


def books_check() -> dict:
    """No seat sold twice, no negative balance, and charges = balances + payments."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM (SELECT seat_id FROM reservations_reservation WHERE status = 'CONFIRMED'"
            " GROUP BY seat_id HAVING count(*) > 1) AS d"
        )
        (double_sold,) = cur.fetchone()
        cur.execute(
            "SELECT count(*) FROM (SELECT r.seat_id FROM payments_paymentitem i"
            " JOIN reservations_reservation r ON r.id = i.reservation_id GROUP BY r.seat_id HAVING count(*) > 1) AS d"
        )
        (double_paid_items,) = cur.fetchone()
        cur.execute(
            "SELECT count(*) FROM (SELECT seat_id FROM reservations_reservation WHERE status IN ('HELD', 'CONFIRMED')"
            " GROUP BY seat_id HAVING count(*) > 1) AS d"
        )
        (double_live,) = cur.fetchone()
        cur.execute("SELECT coalesce(min(balance), 0), coalesce(sum(balance), 0), count(*) FROM wallet_wallet")
        min_balance, balances, wallets = cur.fetchone()
        cur.execute("SELECT coalesce(sum(amount), 0) FROM wallet_ledgerentry WHERE kind = 'CHARGE'")
        (charges,) = cur.fetchone()
        cur.execute("SELECT coalesce(sum(amount), 0) FROM wallet_ledgerentry WHERE kind = 'PAYMENT'")
        (ledger_payments,) = cur.fetchone()
        cur.execute("SELECT coalesce(sum(amount), 0), count(*) FROM payments_payment")
        payments, payment_count = cur.fetchone()
        cur.execute("SELECT coalesce(sum(amount), 0) FROM payments_paymentitem")
        (items,) = cur.fetchone()
        cur.execute("SELECT coalesce(sum(price), 0), count(*) FROM reservations_reservation WHERE status = 'CONFIRMED'")
        confirmed_sum, confirmed = cur.fetchone()
        cur.execute("SELECT count(*) FROM wallet_ledgerentry WHERE balance_after < 0")
        (negative_ledger,) = cur.fetchone()
    problems = []
    if double_sold or double_paid_items or double_live:
        problems.append(f"seat sold/held twice: {double_sold} sold, {double_paid_items} paid, {double_live} live")
    if min_balance < 0 or negative_ledger:
        problems.append(f"negative balance: min {min_balance}, {negative_ledger} ledger rows below 0")
    if charges != balances + payments:
        problems.append(f"money: charges {charges} != balances {balances} + payments {payments}")
    if -ledger_payments != payments or items != payments or confirmed_sum != payments:
        problems.append(
            f"money: payments {payments}, ledger {-ledger_payments}, items {items}, confirmed seats {confirmed_sum}"
        )
    return {
        "ok": not problems,
        "problems": problems,
        "charges": charges,
        "balances": balances,
        "payments": payments,
        "payment_count": payment_count,
        "confirmed_reservations": confirmed,
        "wallets": wallets,
        "min_balance": min_balance,
    }


def confirmed_count(reservation_ids: list[int]) -> int:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM reservations_reservation WHERE id = ANY(%s) AND status = 'CONFIRMED'",
            [reservation_ids],
        )
        return cur.fetchone()[0]


def reservations_on_seat(*, concert_id: int, date: dt.date, number: int) -> dict:
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT r.status, count(*) FROM reservations_reservation r
            JOIN concerts_seat s ON s.id = r.seat_id JOIN concerts_concertdate d ON d.id = s.concert_date_id
            WHERE d.concert_id = %s AND d.date = %s AND s.number = %s GROUP BY r.status
            """,
            [concert_id, date, number],
        )
        return dict(cur.fetchall())


def pg_version() -> str:
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        return cur.fetchone()[0]
