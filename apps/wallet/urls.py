from apps.common.viewsets import ApiRouter
from apps.wallet.apis import WalletViewSet

router = ApiRouter()
# GET /users/{user_id}/wallet, POST .../wallet/charge, GET .../wallet/transactions: the wallet
# is the user's, so its actions hang off the user's path (apps.accounts serves POST /users).
router.register("users", WalletViewSet, basename="wallet")

urlpatterns = router.urls
