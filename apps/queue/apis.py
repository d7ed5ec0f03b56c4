from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.schema import API_KEY_ERRORS, QUEUE_TOKEN_ERRORS, problem_responses
from apps.common.throttles import ClientIpThrottle, SettingsRateThrottle
from apps.queue.authentication import QueueTokenClaimAuthentication
from apps.queue.body import queue_token_body
from apps.queue.models import QueueEntry
from apps.queue.services import queue_poll, queue_token_issue
from apps.queue.tokens import token_for


class QueueTokenOutputSerializer(serializers.Serializer):
    """Documents the body that apps.queue.body builds."""

    token = serializers.CharField()
    status = serializers.ChoiceField(choices=QueueEntry.Status.choices)
    position = serializers.IntegerField(help_text="1 for the head of the line; 0 when ACTIVE.")
    estimated_wait_seconds = serializers.IntegerField(
        allow_null=True,
        help_text="0 when ACTIVE; never smaller for a later position; null while admission is paused.",
    )
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When an ACTIVE token ends; null while WAITING.")
    paused = serializers.BooleanField(help_text="True while staff hold admission.")
    poll_after_seconds = serializers.IntegerField(
        min_value=1, help_text="Poll again after this many seconds: longer the further back in line."
    )


class QueueIssueThrottle(ClientIpThrottle):
    scope = "queue_issue"


class QueuePollThrottle(SettingsRateThrottle):
    scope = "queue_poll"

    def identity(self, request) -> str:
        return str(request.auth.entry_id)


class QueueTokenIssueApi(APIView):
    throttle_classes = [QueueIssueThrottle]

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
    def post(self, request):
        entry, place, created = queue_token_issue(user=request.user)
        return Response(
            queue_token_body(token=token_for(entry), place=place),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class QueueStatusApi(APIView):
    """Also answered in front of Django for WAITING and ACTIVE tokens (apps/queue/edge.py),
    with the same body, throttle and codes; this view answers the rest."""

    authentication_classes = [QueueTokenClaimAuthentication]
    permission_classes = []
    throttle_classes = [QueuePollThrottle]

    @extend_schema(
        operation_id="queue_status_retrieve",
        summary="Poll my place in line",
        responses={200: QueueTokenOutputSerializer, **problem_responses({401: QUEUE_TOKEN_ERRORS[401]})},
        tags=["queue"],
    )
    def get(self, request):
        place = queue_poll(entry_id=request.auth.entry_id)
        return Response(queue_token_body(token=request.auth.token, place=place))
