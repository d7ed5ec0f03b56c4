from apps.common.viewsets import ApiRouter
from apps.queue.apis import QueueViewSet

router = ApiRouter()
router.register("queue", QueueViewSet, basename="queue")  # POST /queue/tokens, GET /queue/status

urlpatterns = router.urls
