"""Domain errors in words a concert-goer understands, in their language, keyed by exception class."""

from django.utils.translation import gettext_lazy as _

from apps.accounts.errors import UsernameTaken
from apps.common.errors import (
    ApplicationError,
    Forbidden,
    IdempotencyKeyReused,
    InvalidDate,
    ServiceUnavailable,
    ValidationFailed,
)
from apps.concerts.errors import ConcertNotFound, DateNotFound, SeatNotFound
from apps.queue.errors import QueueTokenExpired, QueueTokenInvalid, QueueTokenMissing, QueueTokenNotActive
from apps.reservations.errors import (
    DateClosed,
    HoldLimitReached,
    ReservationAlreadyPaid,
    ReservationExpired,
    ReservationNotFound,
    SeatUnavailable,
)
from apps.wallet.errors import InsufficientBalance, InvalidAmount

MESSAGES = {
    ValidationFailed: _("Something in the form is not right. Please check it and try again."),
    Forbidden: _("You may not do that."),
    UsernameTaken: _("That username is already taken. Please choose another one."),
    QueueTokenMissing: _("Please take a place in the queue first."),
    QueueTokenInvalid: _("We could not find your place in the queue. Please take a new one."),
    QueueTokenExpired: _(
        "Your turn has ended: it ends when you pay or when the time to book is up. "
        "Take a new place in the queue to book again."
    ),
    QueueTokenNotActive: _("It is not your turn yet. Please wait in the waiting room."),
    ConcertNotFound: _("We could not find that concert."),
    DateNotFound: _("The concert does not play on that date."),
    InvalidDate: _("That is not a valid date."),
    SeatNotFound: _("There is no such seat on that date."),
    SeatUnavailable: _("Someone else has just taken this seat. Please pick another one."),
    HoldLimitReached: _(
        "You already hold as many seats as one person may at once. Pay for them, or wait until a hold lapses."
    ),
    DateClosed: _("This date has already passed, so its seats can no longer be booked."),
    ReservationNotFound: _("We could not find that booking."),
    ReservationExpired: _(
        "Your hold on the seat lapsed before you paid, so the seat was released. Pick it again if it is still free."
    ),
    ReservationAlreadyPaid: _("These seats are already paid for."),
    InsufficientBalance: _("Your wallet does not have enough money for this payment. Top it up, then pay again."),
    InvalidAmount: _(
        "Enter a whole number of won from 1 to 1,000,000,000. A wallet may hold at most 10,000,000,000,000 won."
    ),
    IdempotencyKeyReused: _("This request was already made with different details. Please start again."),
    ServiceUnavailable: _("We are very busy right now. Please try again in a moment."),
}


def error_text(error: ApplicationError) -> str:
    """The message for the error's class, or for the nearest class it derives from."""
    for error_class in type(error).__mro__:
        if error_class in MESSAGES:
            return str(MESSAGES[error_class])
    return _("Something went wrong (%(code)s). Please try again.") % {"code": error.code}
