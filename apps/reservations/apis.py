from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.common.fields import parse_concert_date, positive_int_or_none
from apps.common.schema import API_KEY_ERRORS, PAGE_ERRORS, QUEUE_TOKEN_ERRORS, problem_responses
from apps.common.viewsets import ApiViewSet
from apps.queue.authentication import HasActiveQueueToken, QueueTokenAuthentication
from apps.reservations.availability import bookable_dates_json, seat_map_json
from apps.reservations.selectors import reservation_get, reservation_list
from apps.reservations.serializers import (
    BookableDatesOutputSerializer,
    ReservationHoldInputSerializer,
    ReservationOutputSerializer,
    SeatMapOutputSerializer,
)
from apps.reservations.services import reservation_hold

CONCERT_ID_PARAMETER = OpenApiParameter("concert_id", OpenApiTypes.INT64, OpenApiParameter.PATH)
RESERVATION_ID_PARAMETER = OpenApiParameter("reservation_id", OpenApiTypes.INT64, OpenApiParameter.PATH)


def parse_id(value: str) -> int:
    """A path id; anything that is not a storable positive integer names nothing (-> 0)."""
    return positive_int_or_none(value) or 0


class ConcertAvailabilityViewSet(ApiViewSet):
    """A concert's bookable dates and a date's seat map: booking, for ACTIVE queue tokens.

    The crowd's reads: both bodies are JSON bytes built and kept for up to a second by
    apps.reservations.availability and returned as they are (no serializer). For ACTIVE tokens
    they are also answered in front of Django (apps/reservations/edge.py), with the same bytes."""

    authentication_classes = [QueueTokenAuthentication]
    permission_classes = [HasActiveQueueToken]
    lookup_url_kwarg = "concert_id"

    @extend_schema(
        operation_id="concert_dates_list",
        summary="Bookable dates of a concert",
        parameters=[CONCERT_ID_PARAMETER],
        description=(
            "Today-or-later dates that still have a free seat, ascending; none that was called off. Up to a second old."
        ),
        responses={
            200: BookableDatesOutputSerializer,
            **problem_responses(QUEUE_TOKEN_ERRORS, {404: ["CONCERT_NOT_FOUND"]}),
        },
        tags=["booking"],
    )
    @action(detail=True, methods=["get"], url_path="dates")
    def dates(self, request, concert_id):
        now = timezone.now()
        body = bookable_dates_json(concert_id=parse_id(concert_id), today=timezone.localdate(now), now=now)
        return HttpResponse(body, content_type="application/json")

    @extend_schema(
        operation_id="concert_date_seats_list",
        summary="Seat map of a date",
        description=(
            "Every seat of the date, ascending by number, with whether it can be held now. On a closed "
            "date (before today, or called off) no seat is available. Up to a second old."
        ),
        parameters=[
            CONCERT_ID_PARAMETER,
            OpenApiParameter("date", OpenApiTypes.DATE, OpenApiParameter.PATH, description="YYYY-MM-DD"),
        ],
        responses={
            200: SeatMapOutputSerializer,
            **problem_responses(
                QUEUE_TOKEN_ERRORS, {400: ["INVALID_DATE"], 404: ["CONCERT_NOT_FOUND", "DATE_NOT_FOUND"]}
            ),
        },
        tags=["booking"],
    )
    @action(detail=True, methods=["get"], url_path="dates/<str:date>/seats")
    def seats(self, request, concert_id, date):
        body = seat_map_json(concert_id=parse_id(concert_id), date=parse_concert_date(date), now=timezone.now())
        return HttpResponse(body, content_type="application/json")


@extend_schema_view(
    list=extend_schema(
        operation_id="reservations_list",
        summary="My reservations, newest first",
        responses={
            200: ReservationOutputSerializer(many=True),
            **problem_responses(API_KEY_ERRORS, PAGE_ERRORS),
        },
        tags=["reservations"],
    )
)
class ReservationViewSet(mixins.ListModelMixin, ApiViewSet):
    """One path, two credentials: holding a seat (create) is booking, with an ACTIVE queue token;
    my reservations (list, retrieve) are my account, with my API key."""

    serializer_class = ReservationOutputSerializer
    lookup_url_kwarg = "reservation_id"
    booking_actions = {"create"}

    def get_authenticators(self):
        if self.action in self.booking_actions:
            return [QueueTokenAuthentication()]
        return super().get_authenticators()

    def get_permissions(self):
        if self.action in self.booking_actions:
            return [HasActiveQueueToken()]
        return super().get_permissions()

    def get_queryset(self):
        return reservation_list(user=self.request.user)

    @extend_schema(
        operation_id="reservations_create",
        summary="Hold a seat",
        description="Holds the seat for HOLD_SECONDS (300 by default); pay before `expires_at`.",
        request=ReservationHoldInputSerializer,
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
    def create(self, request):
        serializer = ReservationHoldInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reservation = reservation_hold(user=request.user, **serializer.validated_data)
        return Response(ReservationOutputSerializer(reservation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="reservations_retrieve",
        summary="One of my reservations",
        parameters=[RESERVATION_ID_PARAMETER],
        responses={
            200: ReservationOutputSerializer,
            **problem_responses(API_KEY_ERRORS, {404: ["RESERVATION_NOT_FOUND"]}),
        },
        tags=["reservations"],
    )
    def retrieve(self, request, reservation_id):
        reservation = reservation_get(user=request.user, reservation_id=parse_id(reservation_id))
        return Response(ReservationOutputSerializer(reservation).data)
