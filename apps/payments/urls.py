from apps.common.viewsets import ApiRouter
from apps.payments.apis import PaymentViewSet, ReservationCancelViewSet

router = ApiRouter()
router.register("payments", PaymentViewSet, basename="payment")  # POST /payments
# POST /reservations/{reservation_id}/cancel, beside apps.reservations' GET and POST /reservations
router.register("reservations", ReservationCancelViewSet, basename="reservation-cancel")

urlpatterns = router.urls
