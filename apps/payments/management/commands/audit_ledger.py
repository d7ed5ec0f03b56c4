from django.core.management.base import BaseCommand, CommandError

from apps.payments.audit import ledger_audit_report


class Command(BaseCommand):
    help = (
        "Check every wallet balance against its ledger, every sold seat against exactly one "
        "confirmed reservation and one payment, every refund against one cancelled, once-confirmed "
        "reservation, and the books as a whole. Exits non-zero naming the rows that disagree (also "
        "logged at ERROR and kept for the metrics' concert_audit_violations)."
    )

    def handle(self, *args, **options):
        problems = ledger_audit_report()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"audit failed: {len(problems)} problem(s)")
        self.stdout.write("audit ok: balances match the ledger; every sold seat has one confirmed, paid reservation")
