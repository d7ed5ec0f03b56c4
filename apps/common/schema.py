"""OpenAPI helpers: the problem-details response shape, per-endpoint error code lists, and the
schema class that documents what every operation shares (Retry-After on 429 and 503)."""

import re

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from apps.common.exception_handler import PROBLEM_CONTENT_TYPE, problem_body
from apps.common.idempotency import HEADER as IDEMPOTENCY_HEADER
from apps.common.idempotency import KEY_PATTERN as IDEMPOTENCY_KEY_PATTERN
from apps.common.idempotency import MAX_KEY_LENGTH as IDEMPOTENCY_MAX_KEY_LENGTH


class ValidationErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable machine-readable error code; clients branch on it.")
    errors = ValidationErrorItemSerializer(many=True, required=False)
    instance = serializers.CharField(
        required=False,
        help_text="This occurrence: `urn:request:<id>`, the id also sent back in the X-Request-ID header.",
    )


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_MAX_KEY_LENGTH, "pattern": IDEMPOTENCY_KEY_PATTERN},
    location=OpenApiParameter.HEADER,
    required=False,
    description=f"1 to {IDEMPOTENCY_MAX_KEY_LENGTH} visible ASCII characters (anything else is 400). A retry "
    "with the same key and the same request returns the first successful response and has no second effect; "
    "the same key with another request is 422. A failed request is not remembered.",
)

RETRY_AFTER_STATUSES = [429, 503]
RETRY_AFTER_HEADER = OpenApiParameter(
    "Retry-After",
    {"type": "integer", "minimum": 1},
    location=OpenApiParameter.HEADER,
    response=RETRY_AFTER_STATUSES,
    required=True,
    description="Seconds to wait before retrying.",
)

# Every endpoint with a credential can answer these; listed once here.
API_KEY_ERRORS = {401: ["AUTHENTICATION_FAILED"]}
QUEUE_TOKEN_ERRORS = {
    401: ["QUEUE_TOKEN_MISSING", "QUEUE_TOKEN_INVALID", "QUEUE_TOKEN_EXPIRED"],
    403: ["QUEUE_TOKEN_NOT_ACTIVE"],
}
# Every list: a page_size outside 1 to 100; a page past the end (or not a page number).
PAGE_ERRORS = {400: ["VALIDATION_ERROR"], 404: ["NOT_FOUND"]}


def problem_responses(*groups: dict[int, list[str]]) -> dict:
    """{status: [codes]} dicts -> drf-spectacular responses, one example per code. Every
    operation can be throttled or find a backing store down, so 429 and 503 are always there."""
    merged: dict[int, list[str]] = {}
    for group in groups:
        for status, codes in group.items():
            merged.setdefault(status, [])
            merged[status] += [code for code in codes if code not in merged[status]]
    merged.setdefault(429, ["THROTTLED"])
    merged.setdefault(503, ["SERVICE_UNAVAILABLE"])
    responses = {}
    for status, codes in sorted(merged.items()):
        responses[(status, PROBLEM_CONTENT_TYPE)] = OpenApiResponse(
            response=ProblemSerializer,
            description="Problem details. Codes: " + ", ".join(codes),
            examples=[
                OpenApiExample(
                    code,
                    value=problem_body(
                        status=status, code=code, title=code.replace("_", " ").capitalize(), detail="..."
                    ),
                    response_only=True,
                    status_codes=[str(status)],
                )
                for code in codes
            ],
        )
    return responses


class AutoSchema(openapi.AutoSchema):
    def get_serializer_name(self, serializer, direction):
        """Components are named after what they hold: "ReservationOutputSerializer" is
        "Reservation", "ReservationHoldInputSerializer" "ReservationHold" (its request body
        "ReservationHoldRequest"), a nested "SeatMapOutputSerializer.SeatSerializer" "SeatMapSeat"."""
        return re.sub(r"(Input|Output)?Serializer", "", type(serializer).__qualname__).replace(".", "")

    def get_description(self):
        # Without a description of its own, drf-spectacular would publish the viewset's
        # docstring, which is written for this code's readers.
        return ""

    def get_override_parameters(self):
        return [*super().get_override_parameters(), RETRY_AFTER_HEADER]

    def _is_list_view(self, serializer=None) -> bool:
        # drf-spectacular takes the response with the smallest key as the operation's main one;
        # problem responses are keyed (status, media type), whose text sorts before "200". The
        # main response is the first success, which says whether the operation lists (and so
        # takes page and page_size).
        if serializer is None:
            responses = self.get_response_serializers()
            if isinstance(responses, dict):
                successes = [code for code in responses if isinstance(code, int) and 200 <= code < 300]
                if successes:
                    serializer = responses[min(successes)]
        return super()._is_list_view(serializer)
