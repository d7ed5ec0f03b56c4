from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.common.schema import API_KEY_ERRORS, QUEUE_TOKEN_ERRORS, problem_responses
from apps.common.throttles import ClientIpThrottle, SettingsRateThrottle
from apps.common.viewsets import ApiViewSet
from apps.queue.authentication import QueueTokenClaimAuthentication
from apps.queue.body import queue_token_body
from apps.queue.serializers import QueueTokenOutputSerializer
from apps.queue.services import queue_poll, queue_token_issue
from apps.queue.tokens import token_for


class QueueIssueThrottle(ClientIpThrottle):
    scope = "queue_issue"


class QueuePollThrottle(SettingsRateThrottle):
    scope = "queue_poll"

    def identity(self, request) -> str:
        return str(request.auth.entry_id)


class QueueViewSet(ApiViewSet):
    """The waiting room: take a token with an API key, then poll it with the token itself."""

    @extend_schema(
        operation_id="queue_tokens_create",
        summary="Take a waiting-queue token (or get my live one back)",
        request=None,
        responses={
            201: QueueTokenOutputSerializer,
            200: QueueTokenOutputSerializer,
            **problem_responses(API_KEY_ERRORS),
        },
        tags=["queue"],
    )
    @action(detail=False, methods=["post"], url_path="tokens", throttle_classes=[QueueIssueThrottle])
    def issue_token(self, request):
        entry, place, created = queue_token_issue(user=request.user)
        return Response(
            queue_token_body(token=token_for(entry), place=place),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="queue_status_retrieve",
        summary="Poll my place in line",
        responses={200: QueueTokenOutputSerializer, **problem_responses({401: QUEUE_TOKEN_ERRORS[401]})},
        tags=["queue"],
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="status",
        # The signature alone: a poll reads no database (the line in Redis knows the rest).
        authentication_classes=[QueueTokenClaimAuthentication],
        permission_classes=[],
        throttle_classes=[QueuePollThrottle],
    )
    def poll(self, request):
        # Also answered in front of Django for WAITING and ACTIVE tokens (apps/queue/edge.py), with
        # the same body, throttle and codes; this action answers the rest.
        place = queue_poll(entry_id=request.auth.entry_id)
        return Response(queue_token_body(token=request.auth.token, place=place))
