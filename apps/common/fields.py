"""Input parsing shared by the API, the web pages and the commands: text or JSON in, a value
or a clean error out."""

import argparse
import datetime as dt
import re

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.common.errors import InvalidDate

MAX_BIGINT = 2**63 - 1
# A concert date as the contract writes it: ASCII digits, zero-padded.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def is_storable_id(value: int) -> bool:
    """Whether a number could be a row's id: 1 to the largest bigint. Any other id names
    nothing, and a query with one past bigint would fail (out of range) instead of finding nothing."""
    return 0 < value <= MAX_BIGINT


def positive_int_or_none(value: str, *, maximum: int = MAX_BIGINT) -> int | None:
    """Text naming a whole number from 1 to `maximum`, else None. ASCII digits only:
    str.isdigit() also accepts "²" and other scripts' digits, and int() refuses strings of
    more than 4,300 digits, so the length is checked first."""
    if not (value.isascii() and value.isdigit() and len(value) <= len(str(maximum))):
        return None
    number = int(value)
    return number if 0 < number <= maximum else None


def parse_concert_date(value: str) -> dt.date:
    """`YYYY-MM-DD` exactly (ASCII digits; not "2030-1-5" or an ISO week date) -> date, or INVALID_DATE."""
    if not (isinstance(value, str) and ISO_DATE.fullmatch(value)):
        raise InvalidDate()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidDate() from exc


class StrictIntegerField(serializers.IntegerField):
    """An integer that must be a JSON integer: "5", 5.0 and true are rejected, not coerced."""

    default_error_messages = {"invalid": _("A JSON integer is required.")}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A string that must be a JSON string: numbers are rejected, not turned into text."""

    default_error_messages = {"invalid": _("A JSON string is required.")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def positive_int_argument(value: str) -> int:
    """argparse `type=` for management commands: a whole number of at least 1, or a usage error
    (0 or a negative number would silently mean something else, or crash, further on)."""
    number = positive_int_or_none(value)
    if number is None:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return number
