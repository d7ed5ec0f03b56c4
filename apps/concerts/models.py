import datetime as dt

from django.db import models

MAX_SEATS_PER_DATE = 50


class Concert(models.Model):
    title = models.CharField(max_length=200)
    venue = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["title", "venue"], name="concerts_concert_title_venue_unique")]

    def __str__(self):
        return f"{self.title} @ {self.venue}"


def date_closed(*, date: dt.date, cancelled_at: dt.datetime | None, today: dt.date) -> bool:
    """A date sells nothing once it has passed or staff called it off. The one rule: the seat
    map, the dates list (as SQL, `d.cancelled_at IS NULL AND d.date >= today`) and holds use it."""
    return cancelled_at is not None or date < today


class ConcertDate(models.Model):
    concert = models.ForeignKey(Concert, on_delete=models.CASCADE, related_name="dates")
    date = models.DateField()
    cancelled_at = models.DateTimeField(
        null=True, blank=True, help_text="When staff called the date off (refunds made); it sells nothing since."
    )

    class Meta:
        ordering = ["concert_id", "date"]
        constraints = [models.UniqueConstraint(fields=["concert", "date"], name="concerts_date_one_per_day")]

    def __str__(self):
        return f"{self.concert.title} on {self.date.isoformat()}"

    def is_closed(self, today: dt.date) -> bool:
        return date_closed(date=self.date, cancelled_at=self.cancelled_at, today=today)


class Seat(models.Model):
    concert_date = models.ForeignKey(ConcertDate, on_delete=models.CASCADE, related_name="seats")
    number = models.PositiveSmallIntegerField()
    price = models.PositiveIntegerField(help_text="Won.")

    class Meta:
        ordering = ["concert_date_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["concert_date", "number"], name="concerts_seat_unique_number"),
            models.CheckConstraint(
                condition=models.Q(number__gte=1, number__lte=MAX_SEATS_PER_DATE),
                name="concerts_seat_number_range",
            ),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="concerts_seat_price_positive"),
        ]

    def __str__(self):
        return f"seat {self.number} ({self.concert_date})"
