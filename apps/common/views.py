import sys

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.utils.translation import gettext
from django.views import defaults

from apps.common.exception_handler import problem_json_response
from apps.common.middleware import is_unavailable, unavailable_response


def liveness(request):
    """The process answers; touches nothing. Also the benchmarks' framework floor."""
    return JsonResponse({"status": "ok"})


def health(request):
    """Liveness plus a real round trip to the database. A kept connection that broke (the
    database restarted since) is not a verdict: the check retries once on a new one."""
    for _ in range(2):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
            return JsonResponse({"status": "ok", "database": "ok"})
        except DatabaseError:
            connection.close()
    return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)


def not_found(request, exception=None):
    """Problem details under /api/; Django's own 404 page for the web pages and admin."""
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    return problem_json_response(
        status=404,
        code="NOT_FOUND",
        title=gettext("Not found"),
        detail=gettext("No route matches %(path)s.") % {"path": request.path},
    )


def bad_request(request, exception=None):
    """Requests Django refuses before any view (unknown Host, body over the size limit)."""
    return problem_json_response(
        status=400, code="BAD_REQUEST", title=gettext("Bad request"), detail=gettext("The request could not be read.")
    )


def server_error(request):
    """Django's handler500. A store that went away where no view could catch it (a session saved
    to Redis by the middleware, say) is the retryable 503 it is everywhere else, not a 500."""
    error = sys.exc_info()[1]
    if is_unavailable(error):
        return unavailable_response(error)
    return problem_json_response(
        status=500,
        code="INTERNAL_ERROR",
        title=gettext("Internal server error"),
        detail=gettext("An unexpected error occurred."),
    )
