from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from apps.common.idempotency import idempotent
from apps.common.schema import API_KEY_ERRORS, IDEMPOTENCY_KEY_PARAMETER, PAGE_ERRORS, problem_responses
from apps.common.throttles import UserThrottle
from apps.common.viewsets import ApiViewSet
from apps.wallet.errors import InvalidAmount
from apps.wallet.selectors import ledger_entries, wallet_balance
from apps.wallet.serializers import LedgerEntryOutputSerializer, WalletChargeInputSerializer, WalletOutputSerializer
from apps.wallet.services import wallet_charge

OWNER_ERRORS = {**API_KEY_ERRORS, 403: ["FORBIDDEN"]}
USER_ID_PARAMETER = OpenApiParameter(
    "user_id", OpenApiTypes.INT64, OpenApiParameter.PATH, description="Your own user id; any other is 403."
)


class IsWalletOwner(BasePermission):
    """Only the caller's own id; any other id, existing or not, is 403 (nothing is revealed)."""

    message = gettext_lazy("You may only access your own wallet.")

    def has_permission(self, request, view):
        return str(request.user.pk) == view.kwargs["user_id"]


class WalletChargeThrottle(UserThrottle):
    scope = "wallet_charge"


class WalletViewSet(ApiViewSet):
    """A user's wallet, under the user: /users/{user_id}/wallet[/charge|/transactions]."""

    permission_classes = [IsAuthenticated, IsWalletOwner]
    lookup_url_kwarg = "user_id"

    @extend_schema(
        operation_id="wallet_retrieve",
        summary="Read my wallet balance",
        parameters=[USER_ID_PARAMETER],
        responses={200: WalletOutputSerializer, **problem_responses(OWNER_ERRORS)},
        tags=["wallet"],
    )
    @action(detail=True, methods=["get"], url_path="wallet")
    def wallet(self, request, user_id):
        balance = wallet_balance(user=request.user)
        return Response(WalletOutputSerializer({"user_id": request.user.pk, "balance": balance}).data)

    @extend_schema(
        operation_id="wallet_charge",
        summary="Top up my wallet",
        request=WalletChargeInputSerializer,
        parameters=[USER_ID_PARAMETER, IDEMPOTENCY_KEY_PARAMETER],
        responses={
            200: WalletOutputSerializer,
            **problem_responses(
                OWNER_ERRORS, {400: ["INVALID_AMOUNT", "VALIDATION_ERROR"], 422: ["IDEMPOTENCY_KEY_REUSED"]}
            ),
        },
        tags=["wallet"],
    )
    @action(detail=True, methods=["post"], url_path="wallet/charge", throttle_classes=[WalletChargeThrottle])
    @idempotent(scope="wallet_charge", input_serializer=WalletChargeInputSerializer)
    def charge(self, request, user_id):
        try:
            serializer = WalletChargeInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
        except (exceptions.ValidationError, exceptions.ParseError) as exc:
            # Any body that does not carry a valid amount (malformed JSON included) is INVALID_AMOUNT.
            raise InvalidAmount() from exc
        balance = wallet_charge(user=request.user, amount=serializer.validated_data["amount"])
        return Response(WalletOutputSerializer({"user_id": request.user.pk, "balance": balance}).data)

    @extend_schema(
        operation_id="wallet_transactions_list",
        summary="My wallet ledger, newest first",
        parameters=[USER_ID_PARAMETER],
        responses={200: LedgerEntryOutputSerializer(many=True), **problem_responses(OWNER_ERRORS, PAGE_ERRORS)},
        tags=["wallet"],
    )
    @action(detail=True, methods=["get"], url_path="wallet/transactions")
    def transactions(self, request, user_id):
        page = self.paginate_queryset(ledger_entries(user=request.user))
        return self.get_paginated_response(LedgerEntryOutputSerializer(page, many=True).data)
