from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.common.views import health, liveness, not_found

api_v1 = [
    path("", include("apps.accounts.urls")),
    path("", include("apps.concerts.urls")),
    path("", include("apps.queue.urls")),
    path("", include("apps.reservations.urls")),
    path("", include("apps.payments.urls")),
    path("", include("apps.wallet.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("health", health, name="health"),
    path("health/live", liveness, name="health-live"),
    path("admin/", admin.site.urls),
    path("", include("apps.web.urls")),
    # Unknown API routes are problem details even with DEBUG on (Django's debug 404 is HTML).
    re_path(r"^api/", not_found),
]

handler400 = "apps.common.views.bad_request"
handler404 = "apps.common.views.not_found"
handler500 = "apps.common.views.server_error"
