from rest_framework import serializers

from apps.queue.models import QueueEntry


class QueueTokenOutputSerializer(serializers.Serializer):
    """Documents the body that apps.queue.body builds (the poll is the most frequent request of
    all, and is also answered in front of Django: no serializer runs on it)."""

    token = serializers.CharField()
    status = serializers.ChoiceField(choices=QueueEntry.Status.choices)
    position = serializers.IntegerField(min_value=0, help_text="1 for the head of the line; 0 when ACTIVE.")
    estimated_wait_seconds = serializers.IntegerField(
        min_value=0,
        allow_null=True,
        help_text="0 when ACTIVE; never smaller for a later position; null while admission is paused.",
    )
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When an ACTIVE token ends; null while WAITING.")
    paused = serializers.BooleanField(help_text="True while staff hold admission.")
    poll_after_seconds = serializers.IntegerField(
        min_value=1, help_text="Poll again after this many seconds: longer the further back in line."
    )
