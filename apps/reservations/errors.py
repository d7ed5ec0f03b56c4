from apps.common.errors import ApplicationError


class SeatUnavailable(ApplicationError):
    status, code, title = 409, "SEAT_UNAVAILABLE", "Seat unavailable"
    default_detail = "Someone else holds or bought this seat."


class HoldLimitReached(ApplicationError):
    status, code, title = 409, "HOLD_LIMIT_REACHED", "Hold limit reached"
    default_detail = "You already hold the most seats allowed at once. Pay or wait for a hold to lapse."


class DateClosed(ApplicationError):
    status, code, title = 409, "DATE_CLOSED", "Date closed"
    default_detail = "This date has passed; its seats can no longer be booked."
    called_off = "This date was called off; its seats can no longer be booked."
    too_late_to_cancel = "The concert is today or has taken place; a bought seat can no longer be cancelled."


class ReservationNotFound(ApplicationError):
    status, code, title = 404, "RESERVATION_NOT_FOUND", "Reservation not found"
    default_detail = "You have no reservation with this id."


class ReservationExpired(ApplicationError):
    status, code, title = 409, "RESERVATION_EXPIRED", "Hold lapsed"
    default_detail = "The hold on this seat lapsed before payment. Hold the seat again if it is still free."


class ReservationAlreadyPaid(ApplicationError):
    status, code, title = 409, "RESERVATION_ALREADY_PAID", "Already paid"
    default_detail = "This reservation is already paid."


class ReservationNotCancellable(ApplicationError):
    status, code, title = 409, "RESERVATION_NOT_CANCELLABLE", "Cannot be cancelled"
    default_detail = "This reservation is already cancelled."
    lapsed = "This hold has lapsed; there is nothing left to cancel."
