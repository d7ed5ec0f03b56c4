from django.db import InterfaceError, OperationalError

from apps.common.exception_handler import problem_json_response


class DatabaseUnavailableMiddleware:
    """Outside DRF views (admin, health of other apps) a lost database is a 503 problem, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)):
            response = problem_json_response(
                status=503,
                code="SERVICE_UNAVAILABLE",
                title="Service unavailable",
                detail="The database is unavailable or busy. Retry shortly.",
            )
            response["Retry-After"] = "1"
            return response
        return None
