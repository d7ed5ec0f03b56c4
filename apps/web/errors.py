"""Domain error codes in words a concert-goer understands, in their language."""

from django.utils.translation import gettext_lazy as _

from apps.common.errors import ApplicationError

ERROR_TEXT = {
    "VALIDATION_ERROR": _("Something in the form is not right. Please check it and try again."),
    "FORBIDDEN": _("You may not do that."),
    "USERNAME_TAKEN": _("That username is already taken. Please choose another one."),
    "QUEUE_TOKEN_MISSING": _("Please take a place in the queue first."),
    "QUEUE_TOKEN_INVALID": _("We could not find your place in the queue. Please take a new one."),
    "QUEUE_TOKEN_EXPIRED": _(
        "Your turn has ended: it ends when you pay or when the time to book is up. "
        "Take a new place in the queue to book again."
    ),
    "QUEUE_TOKEN_NOT_ACTIVE": _("It is not your turn yet. Please wait in the waiting room."),
    "CONCERT_NOT_FOUND": _("We could not find that concert."),
    "DATE_NOT_FOUND": _("The concert does not play on that date."),
    "INVALID_DATE": _("That is not a valid date."),
    "SEAT_NOT_FOUND": _("There is no such seat on that date."),
    "SEAT_UNAVAILABLE": _("Someone else has just taken this seat. Please pick another one."),
    "HOLD_LIMIT_REACHED": _(
        "You already hold as many seats as one person may at once. Pay for them, or wait until a hold lapses."
    ),
    "DATE_CLOSED": _("This date has already passed, so its seats can no longer be booked."),
    "RESERVATION_NOT_FOUND": _("We could not find that booking."),
    "RESERVATION_EXPIRED": _(
        "Your hold on the seat lapsed before you paid, so the seat was released. Pick it again if it is still free."
    ),
    "RESERVATION_ALREADY_PAID": _("These seats are already paid for."),
    "INSUFFICIENT_BALANCE": _("Your wallet does not have enough money for this payment. Top it up, then pay again."),
    "INVALID_AMOUNT": _(
        "Enter a whole number of won from 1 to 1,000,000,000. A wallet may hold at most 10,000,000,000,000 won."
    ),
    "IDEMPOTENCY_KEY_REUSED": _("This request was already made with different details. Please start again."),
    "SERVICE_UNAVAILABLE": _("We are very busy right now. Please try again in a moment."),
}


def error_text(error: ApplicationError) -> str:
    text = ERROR_TEXT.get(error.code)
    if text is None:
        return _("Something went wrong (%(code)s). Please try again.") % {"code": error.code}
    return str(text)
