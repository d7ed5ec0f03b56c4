from apps.common.viewsets import ApiRouter
from apps.payments.apis import PaymentViewSet

router = ApiRouter()
router.register("payments", PaymentViewSet, basename="payment")  # POST /payments

urlpatterns = router.urls
