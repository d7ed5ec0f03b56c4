from apps.accounts.apis import UserViewSet
from apps.common.viewsets import ApiRouter

router = ApiRouter()
router.register("users", UserViewSet, basename="user")  # POST /users

urlpatterns = router.urls
