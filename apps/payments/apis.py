from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.common.idempotency import IsIdempotentReplay, idempotent
from apps.common.schema import API_KEY_ERRORS, IDEMPOTENCY_KEY_PARAMETER, QUEUE_TOKEN_ERRORS, problem_responses
from apps.common.viewsets import ApiViewSet
from apps.payments.serializers import (
    PaymentCreateInputSerializer,
    PaymentOutputSerializer,
    ReservationCancelInputSerializer,
    ReservationCancelOutputSerializer,
)
from apps.payments.services import payment_create, reservation_cancel
from apps.queue.authentication import HasActiveQueueToken, QueueTokenAuthentication
from apps.reservations.apis import RESERVATION_ID_PARAMETER, parse_id


class PaymentViewSet(ApiViewSet):
    authentication_classes = [QueueTokenAuthentication]
    # Paying ends the queue token, yet a retry of a stored payment must still be answered as
    # the first was: the replay needs no ACTIVE token (it changes nothing).
    permission_classes = [IsIdempotentReplay | HasActiveQueueToken]

    @extend_schema(
        operation_id="payments_create",
        summary="Pay for my held seats from my wallet",
        description=(
            "All or nothing. Confirms the reservations and ends the queue token. With an Idempotency-Key, "
            "a retry returns the first response even though the token has ended; `reservation_ids` are a "
            "set, so the same ids in another order are the same request."
        ),
        request=PaymentCreateInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: PaymentOutputSerializer,
            **problem_responses(
                QUEUE_TOKEN_ERRORS,
                {
                    400: ["VALIDATION_ERROR"],
                    402: ["INSUFFICIENT_BALANCE"],
                    404: ["RESERVATION_NOT_FOUND"],
                    409: ["RESERVATION_EXPIRED", "RESERVATION_ALREADY_PAID"],
                    422: ["IDEMPOTENCY_KEY_REUSED"],
                },
            ),
        },
        tags=["booking"],
    )
    @idempotent(scope="payment", input_serializer=PaymentCreateInputSerializer)
    def create(self, request):
        serializer = PaymentCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reservation_ids = serializer.validated_data["reservation_ids"]
        payment, balance = payment_create(
            user=request.user, reservation_ids=reservation_ids, queue_entry_id=request.auth.pk
        )
        body = {
            "id": payment.pk,
            "reservation_ids": reservation_ids,
            "amount": payment.amount,
            "balance": balance,
            "status": payment.status,
            "paid_at": payment.paid_at,
        }
        return Response(PaymentOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class ReservationCancelViewSet(ApiViewSet):
    """POST /reservations/{reservation_id}/cancel, beside apps.reservations' viewset on the same
    path: a cancel moves money (a refund), and imports point from payments to reservations, as
    apps.reservations serves /concerts/{id}/dates beside apps.concerts. With the API key."""

    lookup_url_kwarg = "reservation_id"

    @extend_schema(
        operation_id="reservations_cancel",
        summary="Cancel one of my reservations",
        description=(
            "A live hold is released (`refund` 0). A bought seat on a date after today is refunded: its price "
            "goes back to the wallet as a REFUND ledger entry. Either way the seat is on sale again at once. "
            "With an Idempotency-Key, a retry returns the first response and refunds nothing a second time."
        ),
        # An empty serializer would document no body at all; the contract's body is `{}`.
        request={"application/json": {"type": "object", "description": "`{}`: the path names the reservation."}},
        parameters=[RESERVATION_ID_PARAMETER, IDEMPOTENCY_KEY_PARAMETER],
        responses={
            200: ReservationCancelOutputSerializer,
            **problem_responses(
                API_KEY_ERRORS,
                {
                    400: ["VALIDATION_ERROR"],
                    404: ["RESERVATION_NOT_FOUND"],
                    409: ["RESERVATION_NOT_CANCELLABLE", "DATE_CLOSED"],
                    422: ["IDEMPOTENCY_KEY_REUSED"],
                },
            ),
        },
        tags=["reservations"],
    )
    @action(detail=True, methods=["post"], url_path="cancel")
    @idempotent(scope="reservation_cancel", input_serializer=ReservationCancelInputSerializer)
    def cancel(self, request, reservation_id):
        ReservationCancelInputSerializer(data=request.data).is_valid(raise_exception=True)
        reservation, refund = reservation_cancel(user=request.user, reservation_id=parse_id(reservation_id))
        return Response(ReservationCancelOutputSerializer(reservation, context={"refund": refund}).data)
