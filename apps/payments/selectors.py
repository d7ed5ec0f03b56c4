import dataclasses
import datetime as dt

from django.utils import timezone

from apps.reservations.models import Reservation
from apps.reservations.selectors import concert_date_live_reservations


@dataclasses.dataclass(frozen=True)
class DateCancelResult:
    """What calling a date off did, or would do (`concert_date_cancel_preview`)."""

    refunded_seats: int  # bought seats refunded to their buyers' wallets
    refund_total: int  # won, the sum of those refunds
    released_holds: int  # live holds released unpaid

    @classmethod
    def of(cls, reservations: list[Reservation]) -> "DateCancelResult":
        """For a date's live reservations: the sold ones are refunded, the holds released."""
        sold = [r for r in reservations if r.status == Reservation.Status.CONFIRMED]
        return cls(
            refunded_seats=len(sold),
            refund_total=sum(r.price for r in sold),
            released_holds=len(reservations) - len(sold),
        )


def concert_date_cancel_preview(*, concert_date_id: int, now: dt.datetime | None = None) -> DateCancelResult:
    """What apps.payments.services.concert_date_cancel would do now (zeros for a date already
    called off); DATE_NOT_FOUND if there is no such date. Changes nothing."""
    now = now or timezone.now()
    return DateCancelResult.of(concert_date_live_reservations(concert_date_id=concert_date_id, now=now))
