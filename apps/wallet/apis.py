from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.fields import StrictIntegerField
from apps.common.idempotency import idempotency_key_from, idempotent_call, request_fingerprint
from apps.common.pagination import paginated_response, paginated_schema
from apps.common.schema import API_KEY_ERRORS, IDEMPOTENCY_KEY_PARAMETER, problem_responses
from apps.common.throttles import UserThrottle
from apps.wallet.errors import InvalidAmount
from apps.wallet.models import MAX_CHARGE
from apps.wallet.selectors import ledger_entries, wallet_balance
from apps.wallet.services import wallet_charge

OWNER_ERRORS = {**API_KEY_ERRORS, 403: ["FORBIDDEN"]}
USER_ID_PARAMETER = OpenApiParameter(
    "user_id", OpenApiTypes.INT64, OpenApiParameter.PATH, description="Your own user id; any other is 403."
)


class IsWalletOwner(BasePermission):
    """Only the caller's own id; any other id, existing or not, is 403 (nothing is revealed)."""

    message = "You may only access your own wallet."

    def has_permission(self, request, view):
        return str(request.user.pk) == view.kwargs["user_id"]


class WalletChargeThrottle(UserThrottle):
    scope = "wallet_charge"


class WalletOutputSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    balance = serializers.IntegerField()


class WalletDetailApi(APIView):
    permission_classes = [IsAuthenticated, IsWalletOwner]

    @extend_schema(
        operation_id="wallet_retrieve",
        summary="Read my wallet balance",
        parameters=[USER_ID_PARAMETER],
        responses={200: WalletOutputSerializer, **problem_responses(OWNER_ERRORS)},
        tags=["wallet"],
    )
    def get(self, request, user_id):
        balance = wallet_balance(user=request.user)
        return Response(WalletOutputSerializer({"user_id": request.user.pk, "balance": balance}).data)


class WalletChargeApi(APIView):
    permission_classes = [IsAuthenticated, IsWalletOwner]
    throttle_classes = [WalletChargeThrottle]

    class InputSerializer(serializers.Serializer):
        amount = StrictIntegerField(min_value=1, max_value=MAX_CHARGE)

    @extend_schema(
        operation_id="wallet_charge",
        summary="Top up my wallet",
        request=InputSerializer,
        parameters=[USER_ID_PARAMETER, IDEMPOTENCY_KEY_PARAMETER],
        responses={
            200: WalletOutputSerializer,
            **problem_responses(
                OWNER_ERRORS, {400: ["INVALID_AMOUNT", "VALIDATION_ERROR"], 422: ["IDEMPOTENCY_KEY_REUSED"]}
            ),
        },
        tags=["wallet"],
    )
    def post(self, request, user_id):
        key = idempotency_key_from(request)

        def charge() -> tuple[int, dict]:
            balance = wallet_charge(user=request.user, amount=self._amount(request))
            return 200, WalletOutputSerializer({"user_id": request.user.pk, "balance": balance}).data

        status, body = idempotent_call(
            user=request.user,
            scope="wallet_charge",
            key=key,
            fingerprint=request_fingerprint(request),
            action=charge,
        )
        return Response(body, status=status)

    def _amount(self, request) -> int:
        """Any body that does not carry a valid amount (malformed JSON included) is INVALID_AMOUNT."""
        try:
            serializer = self.InputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
        except (exceptions.ValidationError, exceptions.ParseError) as exc:
            raise InvalidAmount() from exc
        return serializer.validated_data["amount"]


class LedgerEntryListApi(APIView):
    permission_classes = [IsAuthenticated, IsWalletOwner]

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        kind = serializers.CharField()
        amount = serializers.IntegerField(help_text="Signed: positive for money in, negative for money out.")
        balance_after = serializers.IntegerField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="wallet_transactions_list",
        summary="My wallet ledger, newest first",
        parameters=[USER_ID_PARAMETER],
        responses={
            200: paginated_schema(name="PaginatedLedgerEntryList", serializer_class=OutputSerializer),
            **problem_responses(OWNER_ERRORS, {404: ["NOT_FOUND"]}),
        },
        tags=["wallet"],
    )
    def get(self, request, user_id):
        return paginated_response(
            request=request,
            view=self,
            queryset=ledger_entries(user=request.user),
            serializer_class=self.OutputSerializer,
        )
