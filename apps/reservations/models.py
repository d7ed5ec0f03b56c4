import datetime as dt

from django.conf import settings
from django.db import models

from apps.concerts.models import Seat


class ReservationStatus(models.TextChoices):
    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"  # by its holder (a hold released, a bought seat refunded) or with its date


# --- the hold rule, once: a HELD reservation keeps its seat until `expires_at`, not at it ---
# Expiry is a query predicate, so a lapsed hold is free at once, whether or not the sweeper has
# marked it EXPIRED yet. The rule in its three forms (a Q, an SQL fragment for the hand-written
# queries, Python for a loaded row) sits here together; test_models checks that they agree.

Status = ReservationStatus
# The statuses that occupy a seat as far as the unique index is concerned (HELD even once lapsed).
# EXPIRED and CANCELLED give the seat back: a cancelled seat is on sale again at once.
SEAT_KEEPING = [Status.HELD, Status.CONFIRMED]


def live_hold_q(now: dt.datetime, *, prefix: str = "") -> models.Q:
    """Holds that have not lapsed. `prefix` reaches reservations through a relation
    (e.g. "seats__reservations__")."""
    return models.Q(**{f"{prefix}status": Status.HELD, f"{prefix}expires_at__gt": now})


def lapsed_hold_q(now: dt.datetime) -> models.Q:
    """Holds past their expiry that no sweep has marked EXPIRED yet."""
    return models.Q(status=Status.HELD, expires_at__lte=now)


def taken_q(now: dt.datetime) -> models.Q:
    """Reservations that keep a seat from being booked: sold, or held and not yet lapsed."""
    return models.Q(status=Status.CONFIRMED) | live_hold_q(now)


def taken_sql(*, alias: str, now: str) -> str:
    """`taken_q` as an SQL condition on the reservation table aliased `alias`, with `now` a
    placeholder such as "%(now)s"."""
    return (
        f"({alias}.status = '{Status.CONFIRMED}' OR ({alias}.status = '{Status.HELD}' AND {alias}.expires_at > {now}))"
    )


def effective_status(*, status: str, expires_at: dt.datetime, now: dt.datetime) -> str:
    """The status users see: a lapsed hold is EXPIRED."""
    if status == Status.HELD and expires_at <= now:
        return Status.EXPIRED
    return status


class ReservationQuerySet(models.QuerySet):
    def live_holds(self, now: dt.datetime) -> "ReservationQuerySet":
        return self.filter(live_hold_q(now))

    def lapsed_holds(self, now: dt.datetime) -> "ReservationQuerySet":
        return self.filter(lapsed_hold_q(now))

    def with_effective_status(self, status: str, now: dt.datetime) -> "ReservationQuerySet":
        """Those whose status as users see it (`effective_status`) is `status`."""
        if status == Status.HELD:
            return self.live_holds(now)
        if status == Status.EXPIRED:
            return self.filter(models.Q(status=Status.EXPIRED) | lapsed_hold_q(now))
        return self.filter(status=status)


class Reservation(models.Model):
    """A seat held for a user until `expires_at`, then CONFIRMED by payment or EXPIRED; a hold or
    a bought seat may be CANCELLED (the hold rule is above this class). `expires_at` stays as
    the hold had it; the API shows it only while the reservation is HELD."""

    Status = ReservationStatus

    # No index of its own: reservations_user_status starts with user and serves it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reservations", db_index=False
    )
    seat = models.ForeignKey(Seat, on_delete=models.PROTECT, related_name="reservations")
    price = models.PositiveIntegerField(help_text="Won, fixed when the seat was held.")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.HELD)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # A cancelled reservation that has a confirmed_at was bought, then refunded.
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = ReservationQuerySet.as_manager()

    class Meta:
        constraints = [
            # The last line of defence against a double sale: whatever the code does, a seat
            # has at most one reservation that is held or sold. Lapsed holds are set EXPIRED
            # before a new hold on the same seat is inserted.
            models.UniqueConstraint(
                fields=["seat"],
                condition=models.Q(status__in=SEAT_KEEPING),
                name="reservations_one_live_per_seat",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=Status.CONFIRMED) | models.Q(confirmed_at__isnull=False),
                name="reservations_confirmed_has_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=Status.CANCELLED) | models.Q(cancelled_at__isnull=False),
                name="reservations_cancelled_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="reservations_user_status"),
            models.Index(
                fields=["expires_at"], condition=models.Q(status=Status.HELD), name="reservations_held_expiry"
            ),
        ]

    def __str__(self):
        return f"reservation {self.pk} ({self.status})"

    def effective_status(self, now: dt.datetime) -> str:
        return effective_status(status=self.status, expires_at=self.expires_at, now=now)
