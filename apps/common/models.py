from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    """The first successful response to a request sent with an `Idempotency-Key` header.

    Only successes are stored: the row is inserted in the same transaction as the effect, so
    a failed request leaves nothing behind and may be retried with the same key.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=40)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    # Text, not jsonb: a replay returns the body byte for byte, key order included.
    response_body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotency_unique_user_scope_key"),
        ]

    def __str__(self):
        return f"{self.scope}:{self.key}"
