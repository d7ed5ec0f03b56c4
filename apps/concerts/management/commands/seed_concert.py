import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import InvalidDate, ValidationFailed
from apps.common.fields import parse_concert_date
from apps.concerts.models import MAX_SEATS_PER_DATE
from apps.concerts.services import PriceTier, concert_seed, price_tiers_parse


def iso_date(value: str) -> dt.date:
    try:
        return parse_concert_date(value)
    except InvalidDate as exc:
        raise CommandError(f"not a YYYY-MM-DD date: {value!r}") from exc


def price_tiers(value: str) -> list[PriceTier]:
    try:
        return price_tiers_parse(value)
    except ValidationFailed as exc:
        raise CommandError(exc.detail) from exc


class Command(BaseCommand):
    help = (
        "Create or update one concert with its dates and seats. Idempotent. "
        "Prints the concert's id alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--title", required=True)
        parser.add_argument("--venue", required=True)
        parser.add_argument("--dates", nargs="+", required=True, type=iso_date, metavar="YYYY-MM-DD")
        parser.add_argument("--seats", type=int, default=MAX_SEATS_PER_DATE, help="Seats per date, 1-50.")
        parser.add_argument("--price", type=int, required=True, help="Won per seat.")
        parser.add_argument(
            "--tiers",
            type=price_tiers,
            default=[],
            metavar='"1-10: 200000, 11-20: 180000"',
            help="Prices by seat range; seats no tier covers cost --price.",
        )

    def handle(self, *args, title, venue, dates, seats, price, tiers, **options):
        try:
            concert = concert_seed(title=title, venue=venue, dates=dates, seats=seats, price=price, tiers=tiers)
        except ValidationFailed as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"{concert.title} @ {concert.venue}: {len(dates)} date(s), {seats} seats at {price} won")
        self.stdout.write(str(concert.pk))
