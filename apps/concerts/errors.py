from apps.common.errors import ApplicationError


class ConcertNotFound(ApplicationError):
    status, code, title = 404, "CONCERT_NOT_FOUND", "Concert not found"
    default_detail = "No concert has this id."


class DateNotFound(ApplicationError):
    status, code, title = 404, "DATE_NOT_FOUND", "Date not found"
    default_detail = "The concert does not play on this date."


class SeatNotFound(ApplicationError):
    status, code, title = 404, "SEAT_NOT_FOUND", "Seat not found"
    default_detail = "The date has no seat with this number."
