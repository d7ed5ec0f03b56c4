import argparse
import time

from django.core.management.base import BaseCommand

from apps.common.fields import positive_int_or_none
from apps.reservations.services import holds_sweep


def positive_int(value: str) -> int:
    # 0 would silently mean "the default" in holds_sweep, and a negative slice is a crash.
    number = positive_int_or_none(value)
    if number is None:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return number


class Command(BaseCommand):
    help = "Mark lapsed seat holds EXPIRED now (the same sweep the scheduled task runs)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=positive_int, default=None, help="Rows per transaction.")

    def handle(self, *args, batch_size, **options):
        started = time.perf_counter()
        swept = holds_sweep(batch_size=batch_size)
        elapsed = time.perf_counter() - started
        self.stdout.write(f"swept {swept} lapsed hold(s) in {elapsed:.3f}s")
