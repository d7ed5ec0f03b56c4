from django.db import InterfaceError, OperationalError

from apps.common.errors import ServiceUnavailable
from apps.common.exception_handler import problem_json_response
from apps.common.redis import UNAVAILABLE as STORE_UNAVAILABLE


class DatabaseUnavailableMiddleware:
    """Outside DRF views (admin, web pages) a lost database or Redis is a 503 problem, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError, *STORE_UNAVAILABLE)):
            error = ServiceUnavailable()
            response = problem_json_response(
                status=error.status, code=error.code, title=error.title, detail=error.detail
            )
            response["Retry-After"] = "1"
            return response
        return None
