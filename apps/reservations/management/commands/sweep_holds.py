import time

from django.core.management.base import BaseCommand

from apps.common.fields import positive_int_argument
from apps.reservations.services import holds_sweep


class Command(BaseCommand):
    help = "Mark lapsed seat holds EXPIRED now (the same sweep the scheduled task runs)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=positive_int_argument, default=None, help="Rows per transaction.")

    def handle(self, *args, batch_size, **options):
        started = time.perf_counter()
        swept = holds_sweep(batch_size=batch_size)
        elapsed = time.perf_counter() - started
        self.stdout.write(f"swept {swept} lapsed hold(s) in {elapsed:.3f}s")
