from django.conf import settings
from django.db import models


class QueueEntry(models.Model):
    """One user's place in the waiting room.

    `ticket` is a dense number handed out in issue order; a WAITING entry's position is its
    ticket minus the state's `now_serving`, so polling never counts the line.
    """

    class Status(models.TextChoices):
        WAITING = "WAITING"
        ACTIVE = "ACTIVE"
        EXPIRED = "EXPIRED"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queue_entries")
    ticket = models.BigIntegerField(unique=True)
    # Signed together with the id into the token; the token itself is never stored.
    nonce = models.CharField(max_length=32)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    admitted_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "queue entries"
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=["WAITING", "ACTIVE"]),
                name="queue_one_live_entry_per_user",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="ACTIVE") | models.Q(expires_at__isnull=False),
                name="queue_active_has_expiry",
            ),
        ]
        indexes = [
            models.Index(fields=["ticket"], condition=models.Q(status="WAITING"), name="queue_waiting_by_ticket"),
            models.Index(fields=["expires_at"], condition=models.Q(status="ACTIVE"), name="queue_active_by_expiry"),
            models.Index(
                fields=["last_seen_at"], condition=models.Q(status="WAITING"), name="queue_waiting_by_last_seen"
            ),
        ]

    def __str__(self):
        return f"#{self.ticket} {self.user} {self.status}"


class QueueState(models.Model):
    """The single row (pk=1) that admission locks; also the staff's runtime controls.

    Staff edit `active_limit` and `paused` in the admin, which saves only those two columns;
    the counters are written by the queue services alone.
    """

    active_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Tokens ACTIVE at once. Empty: the QUEUE_ACTIVE_LIMIT setting."
    )
    paused = models.BooleanField(default=False, help_text="While paused nobody new is admitted.")
    last_ticket = models.BigIntegerField(default=0)
    now_serving = models.BigIntegerField(default=0, help_text="Every ticket up to this one has left the line.")
    seconds_per_admission = models.FloatField(
        null=True, blank=True, help_text="Recently observed time between admissions (moving average)."
    )
    last_admission_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "queue control"
        verbose_name_plural = "queue control"

    def __str__(self):
        return "Queue control"

    @property
    def effective_active_limit(self) -> int:
        return self.active_limit if self.active_limit is not None else settings.QUEUE_ACTIVE_LIMIT
