import datetime as dt

import factory
from django.utils import timezone

from apps.concerts.models import Concert, ConcertDate, Seat


class ConcertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Concert

    title = factory.Sequence(lambda n: f"Concert {n}")
    venue = "Olympic Hall"


class ConcertDateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConcertDate

    concert = factory.SubFactory(ConcertFactory)
    date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=30))


class SeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seat

    concert_date = factory.SubFactory(ConcertDateFactory)
    number = factory.Sequence(lambda n: n % 50 + 1)
    price = 150_000


def date_with_seats(*, seats: int = 50, price: int = 150_000, **date_fields) -> ConcertDate:
    """A concert date with seats 1..seats."""
    concert_date = ConcertDateFactory(**date_fields)
    Seat.objects.bulk_create(Seat(concert_date=concert_date, number=n, price=price) for n in range(1, seats + 1))
    return concert_date
