from apps.common.viewsets import ApiRouter
from apps.reservations.apis import ConcertAvailabilityViewSet, ReservationViewSet

router = ApiRouter()
# GET /concerts/{concert_id}/dates and /concerts/{concert_id}/dates/{date}/seats, beside
# apps.concerts' GET /concerts.
router.register("concerts", ConcertAvailabilityViewSet, basename="concert-availability")
# POST and GET /reservations, GET /reservations/{reservation_id}
router.register("reservations", ReservationViewSet, basename="reservation")

urlpatterns = router.urls
