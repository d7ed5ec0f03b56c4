"""Domain errors in words a concert-goer understands, in their language, keyed by exception class."""

from django.utils.translation import gettext_lazy as _

from apps.accounts import errors as accounts
from apps.common import errors as common
from apps.concerts import errors as concerts
from apps.queue import errors as queue
from apps.reservations import errors as reservations
from apps.wallet import errors as wallet

MESSAGES = {
    common.ValidationFailed: _("Something in the form is not right. Please check it and try again."),
    common.Forbidden: _("You may not do that."),
    accounts.UsernameTaken: _("That username is already taken. Please choose another one."),
    queue.QueueTokenMissing: _("Please take a place in the queue first."),
    queue.QueueTokenInvalid: _("We could not find your place in the queue. Please take a new one."),
    queue.QueueTokenExpired: _(
        "Your turn has ended: it ends when you pay or when the time to book is up. "
        "Take a new place in the queue to book again."
    ),
    queue.QueueTokenNotActive: _("It is not your turn yet. Please wait in the waiting room."),
    concerts.ConcertNotFound: _("We could not find that concert."),
    concerts.DateNotFound: _("The concert does not play on that date."),
    common.InvalidDate: _("That is not a valid date."),
    concerts.SeatNotFound: _("There is no such seat on that date."),
    reservations.SeatUnavailable: _("Someone else has just taken this seat. Please pick another one."),
    reservations.HoldLimitReached: _(
        "You already hold as many seats as one person may at once. Pay for them, or wait until a hold lapses."
    ),
    reservations.DateClosed: _("This date has already passed, so its seats can no longer be booked."),
    reservations.ReservationNotFound: _("We could not find that booking."),
    reservations.ReservationExpired: _(
        "Your hold on the seat lapsed before you paid, so the seat was released. Pick it again if it is still free."
    ),
    reservations.ReservationAlreadyPaid: _("These seats are already paid for."),
    reservations.ReservationNotCancellable: _(
        "This booking is already cancelled, or its hold has lapsed: there is nothing left to cancel."
    ),
    wallet.InsufficientBalance: _(
        "Your wallet does not have enough money for this payment. Top it up, then pay again."
    ),
    wallet.InvalidAmount: _(
        "Enter a whole number of won from 1 to 1,000,000,000. A wallet may hold at most 10,000,000,000,000 won."
    ),
    common.IdempotencyKeyReused: _("This request was already made with different details. Please start again."),
    common.ServiceUnavailable: _("We are very busy right now. Please try again in a moment."),
}

# Sentences a service words for the case at hand (one of the class's own, passed as the detail):
# the pages show them as they are, instead of the class's general sentence.
CASE_DETAILS = (
    reservations.SeatUnavailable.held_by_you,
    reservations.SeatUnavailable.bought_by_you,
    reservations.DateClosed.called_off,
    reservations.ReservationNotCancellable.lapsed,
)


def error_text(error: common.ApplicationError) -> str:
    """The service's sentence for the error's case, else the message for its class or the nearest
    class it derives from."""
    detail = getattr(error, "detail", None)
    if any(detail is case for case in CASE_DETAILS):
        return str(detail)
    for error_class in type(error).__mro__:
        if error_class in MESSAGES:
            return str(MESSAGES[error_class])
    return _("Something went wrong (%(code)s). Please try again.") % {"code": error.code}
