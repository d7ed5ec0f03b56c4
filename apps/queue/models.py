import datetime as dt

from django.conf import settings
from django.db import models

# The one QueueState row: made by migration 0002, read and written only by this pk.
QUEUE_STATE_PK = 1


class QueueStatus(models.TextChoices):
    WAITING = "WAITING"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"


# --- the entry rule, once: WAITING and ACTIVE entries are live (one per user); an ACTIVE one
# lapses at its `expires_at`, whether or not the scheduled task has marked it EXPIRED yet ---

Status = QueueStatus
LIVE_STATUSES = [Status.WAITING, Status.ACTIVE]
# The live condition in SQL, for the hand-written queries: the predicate of the partial unique
# index, which an INSERT ... ON CONFLICT must repeat.
LIVE_SQL = "status IN ({})".format(", ".join(f"'{status}'" for status in LIVE_STATUSES))


def effective_status(*, status: str, expires_at: dt.datetime | None, now: dt.datetime) -> str:
    """As stored, except that an ACTIVE token is EXPIRED the moment its time is up. (A WAITING
    row may have been admitted or dropped by the line since: ask the line,
    `apps.queue.services.queue_place`.)"""
    if status == Status.ACTIVE and expires_at <= now:
        return Status.EXPIRED
    return status


class QueueEntryQuerySet(models.QuerySet):
    def live(self) -> "QueueEntryQuerySet":
        return self.filter(status__in=LIVE_STATUSES)

    def admitted(self, now: dt.datetime) -> "QueueEntryQuerySet":
        """ACTIVE and not yet lapsed."""
        return self.filter(status=Status.ACTIVE, expires_at__gt=now)

    def lapsed(self, now: dt.datetime) -> "QueueEntryQuerySet":
        """ACTIVE past their time, not yet marked EXPIRED."""
        return self.filter(status=Status.ACTIVE, expires_at__lte=now)


class QueueEntry(models.Model):
    """The durable record of one user's place in the waiting room.

    The id is the ticket: PostgreSQL's sequence hands ids out in issue order without a lock,
    and the line admits in id order. The line itself (who waits, who holds a slot, who polled
    when) lives in Redis (`apps.queue.line`); this row is written when the entry is issued,
    admitted and ended, and the line is rebuilt from these rows if Redis loses it.
    """

    Status = QueueStatus

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queue_entries")
    # Signed together with the id into the token; the token itself is never stored.
    nonce = models.CharField(max_length=32)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField()
    admitted_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = QueueEntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "queue entries"
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=LIVE_STATUSES),
                name="queue_one_live_entry_per_user",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=Status.ACTIVE) | models.Q(expires_at__isnull=False),
                name="queue_active_has_expiry",
            ),
        ]
        indexes = [
            # The live entries, read when the line is rebuilt and by the scheduled sync.
            models.Index(fields=["id"], condition=models.Q(status__in=LIVE_STATUSES), name="queue_live_by_id"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.user} {self.status}"

    def effective_status(self, now: dt.datetime) -> str:
        return effective_status(status=self.status, expires_at=self.expires_at, now=now)


class QueueState(models.Model):
    """The staff's runtime controls (the single row QUEUE_STATE_PK): their durable copy. The line reads
    them from Redis, where `queue_state_update` writes them too."""

    active_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Tokens ACTIVE at once. Empty: the QUEUE_ACTIVE_LIMIT setting."
    )
    paused = models.BooleanField(default=False, help_text="While paused nobody new is admitted.")

    class Meta:
        verbose_name = "queue control"
        verbose_name_plural = "queue control"

    def __str__(self):
        return "Queue control"

    @property
    def effective_active_limit(self) -> int:
        return self.active_limit if self.active_limit is not None else settings.QUEUE_ACTIVE_LIMIT
