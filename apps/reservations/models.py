import datetime as dt

from django.conf import settings
from django.db import models

from apps.concerts.models import Seat


class Reservation(models.Model):
    """A seat held for a user until `expires_at`, then CONFIRMED by payment or EXPIRED.

    Expiry is a query predicate: a HELD row past `expires_at` is free at once, whether or not
    the sweeper has marked it EXPIRED yet (see `taken_q`).
    """

    class Status(models.TextChoices):
        HELD = "HELD"
        CONFIRMED = "CONFIRMED"
        EXPIRED = "EXPIRED"

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

    class Meta:
        constraints = [
            # The last line of defence against a double sale: whatever the code does, a seat
            # has at most one reservation that is held or sold. Lapsed holds are set EXPIRED
            # before a new hold on the same seat is inserted.
            models.UniqueConstraint(
                fields=["seat"],
                condition=models.Q(status__in=["HELD", "CONFIRMED"]),
                name="reservations_one_live_per_seat",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="CONFIRMED") | models.Q(confirmed_at__isnull=False),
                name="reservations_confirmed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="reservations_user_status"),
            models.Index(fields=["expires_at"], condition=models.Q(status="HELD"), name="reservations_held_expiry"),
        ]

    def __str__(self):
        return f"reservation {self.pk} ({self.status})"

    def effective_status(self, now: dt.datetime) -> str:
        if self.status == self.Status.HELD and self.expires_at <= now:
            return self.Status.EXPIRED
        return self.status


def taken_q(now: dt.datetime) -> models.Q:
    """Reservations that keep a seat from being booked: sold, or held and not yet lapsed."""
    return models.Q(status=Reservation.Status.CONFIRMED) | models.Q(status=Reservation.Status.HELD, expires_at__gt=now)
