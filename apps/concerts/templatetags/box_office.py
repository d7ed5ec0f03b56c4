"""`{% load box_office %}` on the admin index: the concerts whose sale staff may want to watch."""

from django import template
from django.utils import timezone

from apps.concerts.selectors import concerts_coming_up

register = template.Library()


@register.simple_tag
def coming_concerts():
    return list(concerts_coming_up(today=timezone.localdate()))
