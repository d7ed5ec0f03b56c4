"""OpenAPI helpers: the problem-details response shape and per-endpoint error code lists."""

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from apps.common.exception_handler import PROBLEM_CONTENT_TYPE, problem_body
from apps.common.idempotency import HEADER as IDEMPOTENCY_HEADER


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


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    # Header values are visible ASCII in practice; 1 to 255 characters.
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
    location=OpenApiParameter.HEADER,
    required=False,
    description="Any string up to 255 characters. A retry with the same key and body returns the first "
    "successful response and has no second effect; the same key with another body is 422.",
)

# Every endpoint with a credential can answer these; listed once here.
API_KEY_ERRORS = {401: ["AUTHENTICATION_FAILED"]}
QUEUE_TOKEN_ERRORS = {
    401: ["QUEUE_TOKEN_MISSING", "QUEUE_TOKEN_INVALID", "QUEUE_TOKEN_EXPIRED"],
    403: ["QUEUE_TOKEN_NOT_ACTIVE"],
}


def problem_responses(*groups: dict[int, list[str]]) -> dict:
    """{status: [codes]} dicts -> drf-spectacular responses, one example per code."""
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
    """Names nested serializers after their API class ("SeatMapApi.OutputSerializer" ->
    "SeatMapOutput"), so every API can keep small Input/Output serializers of the same name."""

    def get_serializer_name(self, serializer, direction):
        return type(serializer).__qualname__.replace("Api.", "").replace("Serializer.", "").replace(".", "")
