from django.utils.translation import gettext_lazy as _

from apps.common.errors import ApplicationError


class ConcertNotFound(ApplicationError):
    status, code, title = 404, "CONCERT_NOT_FOUND", _("Concert not found")
    default_detail = _("No concert has this id.")


class DateNotFound(ApplicationError):
    status, code, title = 404, "DATE_NOT_FOUND", _("Date not found")
    default_detail = _("The concert does not play on this date.")


class SeatNotFound(ApplicationError):
    status, code, title = 404, "SEAT_NOT_FOUND", _("Seat not found")
    default_detail = _("The date has no seat with this number.")
