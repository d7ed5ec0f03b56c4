import datetime as dt

import factory
from django.conf import settings
from django.test import TestCase
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.queue.models import QueueEntry
from apps.queue.services import queue_entry_end
from apps.queue.tokens import new_nonce


class QueueEntryFactory(factory.django.DjangoModelFactory):
    """A WAITING entry by default; `active=True` gives an admitted one. Stored in PostgreSQL only:
    the line (Redis) takes such entries in when it is loaded, or when their token is first seen."""

    class Meta:
        model = QueueEntry

    class Params:
        active = factory.Trait(
            status=QueueEntry.Status.ACTIVE,
            admitted_at=factory.LazyFunction(timezone.now),
            expires_at=factory.LazyFunction(
                lambda: timezone.now() + dt.timedelta(seconds=settings.QUEUE_ACTIVE_TTL_SECONDS)
            ),
        )

    user = factory.SubFactory(UserFactory)
    nonce = factory.LazyFunction(new_nonce)
    created_at = factory.LazyFunction(timezone.now)


def end_and_commit(*, entry_id: int) -> None:
    """End a token as a committed transaction would: pytest-django runs each test inside one
    that never commits, and the line hears of an end only on commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        queue_entry_end(entry_id=entry_id)
