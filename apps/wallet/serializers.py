from rest_framework import serializers

from apps.common.fields import StrictIntegerField
from apps.wallet.models import MAX_CHARGE, LedgerEntry


class WalletOutputSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    balance = serializers.IntegerField(min_value=0)


class WalletChargeInputSerializer(serializers.Serializer):
    amount = StrictIntegerField(min_value=1, max_value=MAX_CHARGE)


class LedgerEntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=LedgerEntry.Kind.choices)
    amount = serializers.IntegerField(help_text="Signed: positive for money in, negative for money out.")
    balance_after = serializers.IntegerField(min_value=0)
    created_at = serializers.DateTimeField()
