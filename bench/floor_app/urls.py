from django.http import JsonResponse
from django.urls import path

PATH = "/floor"


def floor(request):
    """The same body as the project's GET /health/live."""
    return JsonResponse({"status": "ok"})


urlpatterns = [path(PATH.lstrip("/"), floor)]
