from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common.errors import InvalidDate
from apps.common.fields import MAX_BIGINT, StrictIntegerField, parse_concert_date
from apps.reservations.models import Reservation


class ConcertDateField(serializers.DateField):
    """YYYY-MM-DD exactly, as on the seat map's path: strptime alone also takes "2030-1-5"
    and non-ASCII digits."""

    def to_internal_value(self, value):
        try:
            return parse_concert_date(value)
        except InvalidDate:
            self.fail("invalid", format="YYYY-MM-DD")


class ReservationHoldInputSerializer(serializers.Serializer):
    concert_id = StrictIntegerField(min_value=1, max_value=MAX_BIGINT)
    date = ConcertDateField()
    seat_number = StrictIntegerField(min_value=1, max_value=2**31 - 1)


@extend_schema_field(serializers.ChoiceField(choices=Reservation.Status.choices))
class ReservationStatusField(serializers.Field):
    """The status as the user sees it: a lapsed hold is EXPIRED before any sweep marks it."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, reservation: Reservation) -> str:
        return reservation.effective_status(timezone.now())


class ReservationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    concert_id = serializers.IntegerField(source="seat.concert_date.concert_id")
    date = serializers.DateField(source="seat.concert_date.date")
    seat_number = serializers.IntegerField(source="seat.number")
    price = serializers.IntegerField()
    status = ReservationStatusField()
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When the hold lapses while the reservation is HELD; null once it is not."
    )

    def to_representation(self, reservation: Reservation) -> dict:
        body = super().to_representation(reservation)
        if body["status"] != Reservation.Status.HELD:
            # A bought, cancelled or lapsed reservation has no hold to lapse: an old expiry
            # would read as if the ticket ran out.
            body["expires_at"] = None
        return body


class BookableDatesOutputSerializer(serializers.Serializer):
    """Documents the body apps.reservations.availability builds and keeps (no serializer runs)."""

    class DateSerializer(serializers.Serializer):
        date = serializers.DateField()
        available_seats = serializers.IntegerField(min_value=1)

    concert_id = serializers.IntegerField()
    dates = DateSerializer(many=True)


class SeatMapOutputSerializer(serializers.Serializer):
    """Documents the body apps.reservations.availability builds and keeps (no serializer runs)."""

    class SeatSerializer(serializers.Serializer):
        number = serializers.IntegerField()
        price = serializers.IntegerField()
        available = serializers.BooleanField()

    concert_id = serializers.IntegerField()
    date = serializers.DateField()
    seats = SeatSerializer(many=True)
