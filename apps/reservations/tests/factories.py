import datetime as dt

import factory
from django.conf import settings
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.concerts.tests.factories import SeatFactory
from apps.reservations.models import Reservation


class ReservationFactory(factory.django.DjangoModelFactory):
    """A live hold by default."""

    class Meta:
        model = Reservation

    user = factory.SubFactory(UserFactory)
    seat = factory.SubFactory(SeatFactory)
    price = factory.SelfAttribute("seat.price")
    created_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(seconds=settings.HOLD_SECONDS))
