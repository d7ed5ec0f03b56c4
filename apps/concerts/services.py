import datetime as dt

from django.db import transaction

from apps.concerts.models import Concert, ConcertDate, Seat


@transaction.atomic
def concert_seed(*, title: str, venue: str, dates: list[dt.date], seats: int, price: int) -> Concert:
    """Create or update a concert so it has these dates, each with seats 1..`seats` at `price`.

    Idempotent: a second run with the same arguments changes nothing. Existing seats get the
    new price (a hold or sale keeps the price it was made at); seats are never removed.
    """
    concert, _ = Concert.objects.get_or_create(title=title, venue=venue)
    for date in sorted(set(dates)):
        concert_date, _ = ConcertDate.objects.get_or_create(concert=concert, date=date)
        existing = {seat.number: seat for seat in concert_date.seats.all()}
        missing = [
            Seat(concert_date=concert_date, number=n, price=price) for n in range(1, seats + 1) if n not in existing
        ]
        Seat.objects.bulk_create(missing)
        repriced = [seat for seat in existing.values() if seat.number <= seats and seat.price != price]
        for seat in repriced:
            seat.price = price
        Seat.objects.bulk_update(repriced, ["price"])
    return concert
