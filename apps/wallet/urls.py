from django.urls import path

from apps.wallet.apis import LedgerEntryListApi, WalletChargeApi, WalletDetailApi

urlpatterns = [
    path("users/<str:user_id>/wallet", WalletDetailApi.as_view(), name="wallet-detail"),
    path("users/<str:user_id>/wallet/charge", WalletChargeApi.as_view(), name="wallet-charge"),
    path("users/<str:user_id>/wallet/transactions", LedgerEntryListApi.as_view(), name="wallet-transactions"),
]
