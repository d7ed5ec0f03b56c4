from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.errors import InvalidDate
from apps.common.fields import MAX_BIGINT, StrictIntegerField, parse_concert_date, positive_int_or_none
from apps.common.pagination import paginated_response, paginated_schema
from apps.common.schema import API_KEY_ERRORS, QUEUE_TOKEN_ERRORS, problem_responses
from apps.queue.authentication import HasActiveQueueToken, QueueTokenAuthentication
from apps.reservations.availability import bookable_dates_json, seat_map_json
from apps.reservations.models import Reservation
from apps.reservations.selectors import reservation_get, reservation_list
from apps.reservations.services import reservation_hold

CONCERT_ID_PARAMETER = OpenApiParameter("concert_id", OpenApiTypes.INT64, OpenApiParameter.PATH)


class BookingApi(APIView):
    """Booking endpoints: the caller is whoever holds an ACTIVE queue token."""

    authentication_classes = [QueueTokenAuthentication]
    permission_classes = [HasActiveQueueToken]


def parse_id(value: str) -> int:
    """A path id; anything that is not a storable positive integer names nothing (-> 0)."""
    return positive_int_or_none(value) or 0


class ConcertDateField(serializers.DateField):
    """YYYY-MM-DD exactly, as on the seat map's path: strptime alone also takes "2030-1-5"
    and non-ASCII digits."""

    def to_internal_value(self, value):
        try:
            return parse_concert_date(value)
        except InvalidDate:
            self.fail("invalid", format="YYYY-MM-DD")


class ReservationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    concert_id = serializers.IntegerField(source="seat.concert_date.concert_id")
    date = serializers.DateField(source="seat.concert_date.date")
    seat_number = serializers.IntegerField(source="seat.number")
    price = serializers.IntegerField()
    status = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField()

    def get_status(self, reservation: Reservation) -> str:
        return reservation.effective_status(timezone.now())


class BookableDateListApi(BookingApi):
    """Also answered in front of Django for ACTIVE tokens (apps/reservations/edge.py)."""

    class OutputSerializer(serializers.Serializer):
        class DateSerializer(serializers.Serializer):
            date = serializers.DateField()
            available_seats = serializers.IntegerField()

        concert_id = serializers.IntegerField()
        dates = DateSerializer(many=True)

    @extend_schema(
        operation_id="concert_dates_list",
        summary="Bookable dates of a concert",
        parameters=[CONCERT_ID_PARAMETER],
        description="Today-or-later dates that still have a free seat, ascending. Up to a second old.",
        responses={200: OutputSerializer, **problem_responses(QUEUE_TOKEN_ERRORS, {404: ["CONCERT_NOT_FOUND"]})},
        tags=["booking"],
    )
    def get(self, request, concert_id):
        now = timezone.now()
        body = bookable_dates_json(concert_id=parse_id(concert_id), today=timezone.localdate(now), now=now)
        return HttpResponse(body, content_type="application/json")


class SeatMapApi(BookingApi):
    """Also answered in front of Django for ACTIVE tokens (apps/reservations/edge.py)."""

    class OutputSerializer(serializers.Serializer):
        class SeatSerializer(serializers.Serializer):
            number = serializers.IntegerField()
            price = serializers.IntegerField()
            available = serializers.BooleanField()

        concert_id = serializers.IntegerField()
        date = serializers.DateField()
        seats = SeatSerializer(many=True)

    @extend_schema(
        operation_id="concert_date_seats_list",
        summary="Seat map of a date",
        description=(
            "Every seat of the date, ascending by number, with whether it can be held now. On a date "
            "before today no seat is available. Up to a second old."
        ),
        parameters=[
            CONCERT_ID_PARAMETER,
            OpenApiParameter("date", OpenApiTypes.DATE, OpenApiParameter.PATH, description="YYYY-MM-DD"),
        ],
        responses={
            200: OutputSerializer,
            **problem_responses(
                QUEUE_TOKEN_ERRORS, {400: ["INVALID_DATE"], 404: ["CONCERT_NOT_FOUND", "DATE_NOT_FOUND"]}
            ),
        },
        tags=["booking"],
    )
    def get(self, request, concert_id, date):
        now = timezone.now()
        body = seat_map_json(
            concert_id=parse_id(concert_id), date=parse_concert_date(date), today=timezone.localdate(now), now=now
        )
        return HttpResponse(body, content_type="application/json")


class ReservationCollectionApi(APIView):
    """One path, two credentials: holding a seat is booking (ACTIVE queue token); listing
    my reservations is my account (API key)."""

    def _is_hold(self) -> bool:
        # The schema generator asks before it has attached a request.
        return getattr(self.request, "method", None) == "POST"

    def get_authenticators(self):
        return [QueueTokenAuthentication()] if self._is_hold() else super().get_authenticators()

    def get_permissions(self):
        return [HasActiveQueueToken()] if self._is_hold() else super().get_permissions()

    class InputSerializer(serializers.Serializer):
        concert_id = StrictIntegerField(min_value=1, max_value=MAX_BIGINT)
        date = ConcertDateField()
        seat_number = StrictIntegerField(min_value=1, max_value=2**31 - 1)

    @extend_schema(
        operation_id="reservations_create",
        summary="Hold a seat",
        description="Holds the seat for HOLD_SECONDS (300 by default); pay before `expires_at`.",
        request=InputSerializer,
        responses={
            201: ReservationOutputSerializer,
            **problem_responses(
                QUEUE_TOKEN_ERRORS,
                {
                    400: ["VALIDATION_ERROR"],
                    404: ["CONCERT_NOT_FOUND", "DATE_NOT_FOUND", "SEAT_NOT_FOUND"],
                    409: ["SEAT_UNAVAILABLE", "HOLD_LIMIT_REACHED", "DATE_CLOSED"],
                },
            ),
        },
        tags=["booking"],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reservation = reservation_hold(user=request.user, **serializer.validated_data)
        return Response(ReservationOutputSerializer(reservation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="reservations_list",
        summary="My reservations, newest first",
        responses={
            200: paginated_schema(name="PaginatedReservationList", serializer_class=ReservationOutputSerializer),
            **problem_responses(API_KEY_ERRORS, {404: ["NOT_FOUND"]}),
        },
        tags=["reservations"],
    )
    def get(self, request):
        return paginated_response(
            request=request,
            view=self,
            queryset=reservation_list(user=request.user),
            serializer_class=ReservationOutputSerializer,
        )


class ReservationDetailApi(APIView):
    @extend_schema(
        operation_id="reservations_retrieve",
        summary="One of my reservations",
        parameters=[OpenApiParameter("reservation_id", OpenApiTypes.INT64, OpenApiParameter.PATH)],
        responses={
            200: ReservationOutputSerializer,
            **problem_responses(API_KEY_ERRORS, {404: ["RESERVATION_NOT_FOUND"]}),
        },
        tags=["reservations"],
    )
    def get(self, request, reservation_id):
        reservation = reservation_get(user=request.user, reservation_id=parse_id(reservation_id))
        return Response(ReservationOutputSerializer(reservation).data)
