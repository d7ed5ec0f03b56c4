from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.common.errors import ApplicationError


class InvalidAmount(ApplicationError):
    status, code, title = 400, "INVALID_AMOUNT", _("Invalid amount")
    default_detail = _("amount must be a JSON integer from 1 to 1,000,000,000.")


class InsufficientBalance(ApplicationError):
    status, code, title = 402, "INSUFFICIENT_BALANCE", _("Insufficient balance")
    default_detail = _("The wallet balance does not cover this payment.")

    @classmethod
    def short_by(cls, shortfall: int) -> "InsufficientBalance":
        """Says how much is missing; the general text if the balance has grown enough since."""
        if shortfall <= 0:
            return cls()
        return cls(gettext("You need %(shortfall)s won more.") % {"shortfall": f"{shortfall:,}"})
