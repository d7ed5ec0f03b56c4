"""Money and waiting times as people read them, in the current language."""

import math

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.common import formats

register = template.Library()

won = register.filter("won", formats.won)  # 150000 -> "₩150,000" in English, "150,000원" in Korean


@register.filter
def signed_won(amount: int) -> str:
    """A wallet change with its sign: "+₩150,000", "−₩150,000" (a minus sign, not a hyphen)."""
    return ("+" if amount > 0 else "\u2212") + won(abs(amount))


@register.filter
def ledger_kind(kind: str) -> str:
    """A ledger entry's kind as the wallet page names it."""
    names = {"CHARGE": _("Top-up"), "PAYMENT": _("Payment"), "REFUND": _("Refund"), "ADJUSTMENT": _("Adjustment")}
    return names.get(kind, kind)


@register.filter
def wait_text(seconds: int | None) -> str:
    """An estimate, so rounded up to whole minutes: "about 3 minutes". None: admission is paused."""
    if seconds is None:
        return _("none while sales are paused")
    if seconds < 60:
        return _("less than a minute")
    minutes = math.ceil(seconds / 60)
    return ngettext("about %(count)d minute", "about %(count)d minutes", minutes) % {"count": minutes}


@register.filter
def clock(milliseconds: int) -> str:
    """Time left as m:ss (whole seconds rounded up), the countdown's text before the script takes over."""
    seconds = max(math.ceil(milliseconds / 1000), 0)
    return f"{seconds // 60}:{seconds % 60:02d}"
