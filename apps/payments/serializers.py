from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common.fields import MAX_BIGINT, StrictIntegerField
from apps.payments.models import Payment
from apps.reservations.serializers import ReservationOutputSerializer

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
    """A set of reservation ids, written as a JSON array: each id once, in any order. Validates
    to ascending order, so two requests naming the same set mean the same."""

    child = StrictIntegerField(min_value=1, max_value=MAX_BIGINT)

    def to_internal_value(self, data):
        ids = super().to_internal_value(data)
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError(_("Each reservation may be listed once."))
        return sorted(ids)


class PaymentCreateInputSerializer(serializers.Serializer):
    reservation_ids = ReservationIdsField(min_length=1, max_length=MAX_RESERVATIONS_PER_PAYMENT)


class PaymentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reservation_ids = serializers.ListField(child=serializers.IntegerField(), help_text="Ascending.")
    amount = serializers.IntegerField()
    balance = serializers.IntegerField(help_text="Wallet balance after the payment.")
    status = serializers.ChoiceField(choices=Payment.Status.choices)
    paid_at = serializers.DateTimeField()


class ReservationCancelInputSerializer(serializers.Serializer):
    """The body is `{}`: the path names the reservation."""


class ReservationCancelOutputSerializer(ReservationOutputSerializer):
    refund = serializers.SerializerMethodField(
        help_text="Won returned to the wallet: the price for a bought seat, 0 for a hold."
    )

    def get_refund(self, reservation) -> int:
        return self.context["refund"]
