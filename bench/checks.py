"""Reads for the checks and the samples: what the database says after a run. SQL, read-only."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from apps.queue.models import QueueEntry
from apps.queue.tokens import token_for


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


def lapsed_holds_left() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM reservations_reservation WHERE status = 'HELD' AND expires_at <= now()")
        return cur.fetchone()[0]


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


def reservation_ids() -> set[int]:
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM reservations_reservation")
        return {r[0] for r in cur.fetchall()}


def reservations_by_user(ids: set[int]) -> dict[int, list[int]]:
    with connection.cursor() as cur:
        cur.execute("SELECT user_id, id FROM reservations_reservation WHERE id = ANY(%s)", [list(ids)])
        out: dict[int, list[int]] = {}
        for user_id, rid in cur.fetchall():
            out.setdefault(user_id, []).append(rid)
        return out
