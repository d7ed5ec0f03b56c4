"""The sale's own numbers, read at scrape time from the stores that hold them, through the
owning apps' selectors: nothing in the services counts them, so they cannot drift from the truth
and are the same whichever web server is scraped (aggregate them with max, not sum: see
docs/deploy.md "Metrics").

The requests, throttles and 503s are counted as they happen, per process (apps/common/metrics.py).
"""

import json
import logging

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from apps.common.errors import ApplicationError
from apps.common.redis import UNAVAILABLE as STORE_UNAVAILABLE
from apps.common.redis import get_redis
from apps.payments.audit import ledger_audit_last
from apps.queue.services import queue_line_counts
from apps.reservations.models import Reservation
from apps.reservations.selectors import reservation_status_counts
from apps.wallet.selectors import ledger_kind_totals

logger = logging.getLogger(__name__)

# The books' counts are two GROUP BYs over whole tables (about 0.3 s each per million rows), and
# every web server is scraped: they are kept in Redis this long and shared, so PostgreSQL counts
# them about once per period however many servers there are.
BOOKS_KEY = "metrics:books"
BOOKS_KEPT_SECONDS = 10


class SaleCollector:
    """Each source is read on its own: one that cannot be read (Redis or PostgreSQL away) leaves
    its metrics out of the scrape and says so in `concert_metrics_source_up`."""

    def describe(self):
        return []  # read only when scraped, never at registration

    def collect(self):
        up = GaugeMetricFamily(
            "concert_metrics_source_up", "1 if this scrape could read the source, 0 if not.", labels=["source"]
        )
        for source, read in (("line", self._line), ("books", self._books), ("audit", self._audit)):
            try:
                families = list(read())
            except (ApplicationError, DatabaseError, *STORE_UNAVAILABLE) as exc:
                logger.warning("metrics: could not read the %s: %s", source, exc)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up

    def _line(self):
        counts = queue_line_counts()
        yield GaugeMetricFamily("concert_queue_waiting", "People waiting in line now.", value=counts.waiting)
        yield GaugeMetricFamily(
            "concert_queue_active", "ACTIVE queue tokens now (admitted, slot not ended).", value=counts.active
        )
        yield CounterMetricFamily(
            "concert_queue_admitted",
            "Admissions the line has made (kept in Redis: starts again from 0 if Redis restarts empty).",
            value=counts.admitted_total,
        )

    def _books(self):
        books = _books_counted()
        by_status = books["reservations"]
        reservations = GaugeMetricFamily(
            "concert_reservations",
            "Reservations by the status users see: HELD (live holds now), CONFIRMED (seats sold "
            "now), EXPIRED (holds that lapsed), and any other status (CANCELLED).",
            labels=["status"],
        )
        for status, count in by_status.items():
            reservations.add_metric([status], count)
        yield reservations
        placed = sum(by_status.values())
        yield CounterMetricFamily(
            "concert_holds_placed", "Holds ever placed (every reservation begins as one).", value=placed
        )
        yield CounterMetricFamily(
            "concert_holds_lapsed", "Holds that lapsed unpaid.", value=by_status[Reservation.Status.EXPIRED]
        )
        live_or_sold_or_lapsed = (Reservation.Status.HELD, Reservation.Status.CONFIRMED, Reservation.Status.EXPIRED)
        yield CounterMetricFamily(
            "concert_holds_cancelled",
            "Reservations cancelled: holds released before they lapsed, and tickets refunded.",
            value=placed - sum(by_status[status] for status in live_or_sold_or_lapsed),
        )
        yield GaugeMetricFamily(
            "concert_seats_sold",
            "Seats sold now (CONFIRMED reservations).",
            value=by_status[Reservation.Status.CONFIRMED],
        )

        entries = CounterMetricFamily(
            "concert_wallet_entries",
            "Wallet ledger entries by kind: CHARGE (top-ups), PAYMENT (one per payment), REFUND, ADJUSTMENT.",
            labels=["kind"],
        )
        won = CounterMetricFamily(
            "concert_wallet_won", "Won moved by the ledger entries of each kind (absolute).", labels=["kind"]
        )
        for kind, (count, amount) in books["ledger"].items():
            entries.add_metric([kind], count)
            won.add_metric([kind], amount)
        yield entries
        yield won

    def _audit(self):
        last = ledger_audit_last()
        if last is None:
            return
        yield GaugeMetricFamily(
            "concert_audit_violations",
            "Problems the last ledger audit found (audit_ledger, hourly): anything above 0 is an alarm.",
            value=last.violations,
        )
        yield GaugeMetricFamily(
            "concert_audit_last_run_timestamp_seconds",
            "When the last ledger audit finished (Unix time).",
            value=last.finished_at,
        )


def _books_counted() -> dict:
    """{"reservations": {status: count}, "ledger": {kind: [count, won]}}: counted by PostgreSQL,
    or as another scrape counted them in the last BOOKS_KEPT_SECONDS."""
    try:
        kept = get_redis().get(BOOKS_KEY)
    except STORE_UNAVAILABLE:
        kept = None
    if kept:
        return json.loads(kept)
    books = {"reservations": reservation_status_counts(now=timezone.now()), "ledger": ledger_kind_totals()}
    try:
        get_redis().set(BOOKS_KEY, json.dumps(books), ex=BOOKS_KEPT_SECONDS)
    except STORE_UNAVAILABLE:
        pass  # counted again on the next scrape
    return books
