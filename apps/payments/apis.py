from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.errors import IdempotencyKeyReused
from apps.common.fields import MAX_BIGINT, StrictIntegerField
from apps.common.idempotency import HEADER as IDEMPOTENCY_HEADER
from apps.common.idempotency import (
    idempotency_key_from,
    idempotent_call,
    idempotent_response_find,
    request_fingerprint,
)
from apps.common.schema import IDEMPOTENCY_KEY_PARAMETER, QUEUE_TOKEN_ERRORS, problem_responses
from apps.payments.services import payment_create
from apps.queue.authentication import HasActiveQueueToken, QueueTokenAuthentication

IDEMPOTENCY_SCOPE = "payment"
MAX_RESERVATIONS_PER_PAYMENT = 50


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT},
        "minItems": 1,
        "maxItems": MAX_RESERVATIONS_PER_PAYMENT,
        "uniqueItems": True,
    }
)
class ReservationIdsField(serializers.ListField):
    child = StrictIntegerField(min_value=1, max_value=MAX_BIGINT)

    def to_internal_value(self, data):
        ids = super().to_internal_value(data)
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Each reservation may be listed once.")
        return ids


class PaymentCreateApi(APIView):
    authentication_classes = [QueueTokenAuthentication]
    # Checked in post(): a retry of a stored payment is answered even after payment ended the token.
    permission_classes = []

    class InputSerializer(serializers.Serializer):
        reservation_ids = ReservationIdsField(min_length=1, max_length=MAX_RESERVATIONS_PER_PAYMENT)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        reservation_ids = serializers.ListField(child=serializers.IntegerField())
        amount = serializers.IntegerField()
        balance = serializers.IntegerField(help_text="Wallet balance after the payment.")
        status = serializers.CharField()
        paid_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="payments_create",
        summary="Pay for my held seats from my wallet",
        description=(
            "All or nothing. Confirms the reservations and ends the queue token. With an Idempotency-Key, "
            "a retry returns the first response even though the token has ended."
        ),
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: OutputSerializer,
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
    def post(self, request):
        fingerprint = request_fingerprint(request)
        # A stored payment is replayed even though it ended the token. Any other request is
        # judged on its token first, as everywhere: a malformed key cannot have been stored.
        if raw_key := request.headers.get(IDEMPOTENCY_HEADER):
            try:
                stored = idempotent_response_find(
                    user=request.user, scope=IDEMPOTENCY_SCOPE, key=raw_key, fingerprint=fingerprint
                )
            except IdempotencyKeyReused:
                stored = None  # answered below, after the token is checked like any request's
            if stored is not None:
                return Response(stored[1], status=stored[0])
        HasActiveQueueToken().has_permission(request, self)
        key = idempotency_key_from(request)

        def pay() -> tuple[int, dict]:
            serializer = self.InputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            reservation_ids = serializer.validated_data["reservation_ids"]
            payment, balance = payment_create(
                user=request.user, reservation_ids=reservation_ids, queue_entry_id=request.auth.pk
            )
            body = {
                "id": payment.pk,
                "reservation_ids": sorted(reservation_ids),
                "amount": payment.amount,
                "balance": balance,
                "status": payment.status,
                "paid_at": payment.paid_at,
            }
            return status.HTTP_201_CREATED, self.OutputSerializer(body).data

        response_status, body = idempotent_call(
            user=request.user, scope=IDEMPOTENCY_SCOPE, key=key, fingerprint=fingerprint, action=pay
        )
        return Response(body, status=response_status)
