from django.utils.translation import gettext_lazy as _

from apps.common.errors import ApplicationError


class SeatUnavailable(ApplicationError):
    status, code, title = 409, "SEAT_UNAVAILABLE", _("Seat unavailable")
    default_detail = _("Someone else holds or bought this seat.")
    held_by_you = _("You already hold this seat. Pay for it before the hold lapses.")
    bought_by_you = _("You already bought this seat.")


class HoldLimitReached(ApplicationError):
    status, code, title = 409, "HOLD_LIMIT_REACHED", _("Hold limit reached")
    default_detail = _("You already hold the most seats allowed at once. Pay or wait for a hold to lapse.")


class DateClosed(ApplicationError):
    status, code, title = 409, "DATE_CLOSED", _("Date closed")
    default_detail = _("This date has passed; its seats can no longer be booked.")
    called_off = _("This date was called off; its seats can no longer be booked.")
    too_late_to_cancel = _("The concert is today or has taken place; a bought seat can no longer be cancelled.")


class ReservationNotFound(ApplicationError):
    status, code, title = 404, "RESERVATION_NOT_FOUND", _("Reservation not found")
    default_detail = _("You have no reservation with this id.")


class ReservationExpired(ApplicationError):
    status, code, title = 409, "RESERVATION_EXPIRED", _("Hold lapsed")
    default_detail = _("The hold on this seat lapsed before payment. Hold the seat again if it is still free.")


class ReservationAlreadyPaid(ApplicationError):
    status, code, title = 409, "RESERVATION_ALREADY_PAID", _("Already paid")
    default_detail = _("This reservation is already paid.")


class ReservationNotCancellable(ApplicationError):
    status, code, title = 409, "RESERVATION_NOT_CANCELLABLE", _("Cannot be cancelled")
    default_detail = _("This reservation is already cancelled.")
    lapsed = _("This hold has lapsed; there is nothing left to cancel.")
