"""The bench's SQL fixtures: the only place where the bench writes the apps' tables by name.

Why not the services: scenario 6 needs a line of a million WAITING entries (and their users),
scenario 7 100,000 lapsed holds, and every scenario starts with everyone leaving the line. Through
the services that is a million calls of 1-3 ms each (half an hour); as set-based SQL
(`INSERT ... SELECT generate_series`) it takes seconds. The price is that these statements
know the tables: they fill the columns of the models as of issue 11 (queue_queueentry: user_id,
nonce, status, created_at, admitted_at, expires_at, ended_at; its id is the ticket, so the line
is in id order) and must follow any change to them. After writing queue rows, the line in Redis
is rebuilt from PostgreSQL with the queue app's own service (`queue_line_rebuild`): ACTIVE entries
take slots, WAITING ones queue in id order.

Everything small goes through the services (bench/seed.py); reads for the checks are in
bench/checks.py.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection, transaction

from apps.queue.services import queue_line_rebuild


def line_rebuild() -> None:
    """`queue_line_rebuild` without its warning: expected here (a rebuild the bench did not ask
    for, e.g. because something flushed its Redis database, still logs)."""
    services_log = logging.getLogger("apps.queue.services")
    level = services_log.level
    services_log.setLevel(logging.ERROR)
    try:
        queue_line_rebuild()
    finally:
        services_log.setLevel(level)


def queue_entries_end_all() -> int:
    """End every live queue entry in PostgreSQL (the caller rebuilds the line)."""
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE queue_queueentry SET status = 'EXPIRED', ended_at = now() WHERE status IN ('WAITING', 'ACTIVE')"
        )
        return cur.rowcount


def line_seed(*, prefix: str, first: int, count: int, status: str) -> None:
    """`count` users named prefix+N and one queue entry each at the end of the line, then the
    line in Redis rebuilt from PostgreSQL."""
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
    line_rebuild()


def lapsed_holds_seed(*, count: int, user_id: int, first_date: dt.date, price: int) -> dict:
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
            [price, concert_id],
        )
        cur.execute(
            """
            INSERT INTO reservations_reservation (price, status, created_at, expires_at, seat_id, user_id)
            SELECT %s, 'HELD', now() - interval '10 minutes', now() - interval '5 minutes', s.id, %s
            FROM concerts_seat s JOIN concerts_concertdate d ON d.id = s.concert_date_id
            WHERE d.concert_id = %s ORDER BY s.id LIMIT %s
            """,
            [price, user_id, concert_id, count],
        )
        inserted = cur.rowcount
    analyze("concerts_seat", "concerts_concertdate", "reservations_reservation")
    return {"concert_id": concert_id, "dates": ndates, "holds": inserted}


def analyze(*tables: str) -> None:
    """Fresh planner statistics after a bulk insert (autovacuum may be off, or late)."""
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f"ANALYZE {table}")
