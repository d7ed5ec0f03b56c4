from apps.common.viewsets import ApiRouter
from apps.concerts.apis import ConcertViewSet

router = ApiRouter()
router.register("concerts", ConcertViewSet, basename="concert")  # GET /concerts

urlpatterns = router.urls
