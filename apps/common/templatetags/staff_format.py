"""`{% load staff_format %}` in the admin's own pages: `{{ amount|won }}`, `{{ waiting|count }}`."""

from django import template

from apps.common import formats

register = template.Library()
register.filter("won", formats.won)


@register.filter
def count(number: int) -> str:
    """12345 -> "12,345"."""
    return f"{number:,}"
