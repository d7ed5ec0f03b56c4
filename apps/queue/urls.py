from django.urls import path

from apps.queue.apis import QueueStatusApi, QueueTokenIssueApi

urlpatterns = [
    path("queue/tokens", QueueTokenIssueApi.as_view(), name="queue-token-issue"),
    path("queue/status", QueueStatusApi.as_view(), name="queue-status"),
]
