from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.schema import API_KEY_ERRORS, QUEUE_TOKEN_ERRORS, problem_responses
from apps.common.throttles import ClientIpThrottle, SettingsRateThrottle
from apps.queue.authentication import QueueTokenAuthentication
from apps.queue.models import QueueEntry, QueueState
from apps.queue.selectors import entry_place
from apps.queue.services import queue_poll, queue_token_issue
from apps.queue.tokens import token_for


class QueueTokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField()
    status = serializers.ChoiceField(choices=QueueEntry.Status.choices)
    position = serializers.IntegerField(help_text="1 for the head of the line; 0 when ACTIVE.")
    estimated_wait_seconds = serializers.IntegerField(help_text="0 when ACTIVE; never smaller for a later position.")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When an ACTIVE token ends; null while WAITING.")


# Polls are the most frequent request of all: the body is built directly, because a serializer
# instance cost a tenth of the whole poll. The serializer above documents it.
_timestamp = serializers.DateTimeField().to_representation


def queue_token_body(entry: QueueEntry, state: QueueState | None = None) -> dict:
    position, wait = entry_place(entry=entry, state=state)
    return {
        "token": token_for(entry),
        "status": entry.status,
        "position": position,
        "estimated_wait_seconds": wait,
        "expires_at": _timestamp(entry.expires_at) if entry.status == QueueEntry.Status.ACTIVE else None,
    }


class QueueIssueThrottle(ClientIpThrottle):
    scope = "queue_issue"


class QueuePollThrottle(SettingsRateThrottle):
    scope = "queue_poll"

    def identity(self, request) -> str:
        return str(request.auth.pk)


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
        entry, created = queue_token_issue(user=request.user)
        return Response(queue_token_body(entry), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class QueueStatusApi(APIView):
    authentication_classes = [QueueTokenAuthentication]
    permission_classes = []
    throttle_classes = [QueuePollThrottle]

    @extend_schema(
        operation_id="queue_status_retrieve",
        summary="Poll my place in line",
        responses={200: QueueTokenOutputSerializer, **problem_responses({401: QUEUE_TOKEN_ERRORS[401]})},
        tags=["queue"],
    )
    def get(self, request):
        entry, state = queue_poll(entry=request.auth)
        return Response(queue_token_body(entry, state))
