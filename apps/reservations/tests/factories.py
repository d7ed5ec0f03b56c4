import datetime as dt

import factory
from django.conf import settings
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.concerts.tests.factories import SeatFactory
from apps.reservations.models import Reservation


class ReservationFactory(factory.django.DjangoModelFactory):
    """A live hold by default; `lapsed=True` is a HELD row past its expiry that no sweep has
    marked yet, `expired=True` one the sweep has marked, `confirmed=True` a sold seat."""

    class Meta:
        model = Reservation

    class Params:
        lapsed = factory.Trait(
            created_at=factory.LazyFunction(lambda: timezone.now() - dt.timedelta(seconds=settings.HOLD_SECONDS + 60)),
            expires_at=factory.LazyFunction(lambda: timezone.now() - dt.timedelta(seconds=60)),
        )
        expired = factory.Trait(lapsed=True, status=Reservation.Status.EXPIRED)
        confirmed = factory.Trait(status=Reservation.Status.CONFIRMED, confirmed_at=factory.LazyFunction(timezone.now))

    user = factory.SubFactory(UserFactory)
    seat = factory.SubFactory(SeatFactory)
    price = factory.SelfAttribute("seat.price")
    created_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(seconds=settings.HOLD_SECONDS))
