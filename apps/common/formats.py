"""Numbers as staff and buyers read them."""

from django.utils.translation import gettext as _


def won(amount: int) -> str:
    """150000 -> "₩150,000" in English, "150,000원" in Korean (the web pages' wording, one msgid)."""
    return _("₩%(amount)s") % {"amount": f"{amount:,}"}
