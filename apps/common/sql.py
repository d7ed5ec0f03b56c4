"""Hand-written queries on the hot paths: rows turned into model instances without the ORM
building the SQL each time (which costs more than PostgreSQL running it; see BENCHMARKS.md)."""

import datetime as dt

from django.db import connection
from django.db.models import Model
from django.utils import timezone


def column_names(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


def instance_from_row(model: type[Model], names: list[str], values) -> Model:
    """A model instance as the ORM would load it from these columns. Django's converters are
    skipped on this path; the one that matters is SQLite's, which returns naive datetimes
    (stored in UTC) where PostgreSQL returns aware ones."""
    values = [
        timezone.make_aware(value, dt.UTC) if isinstance(value, dt.datetime) and timezone.is_naive(value) else value
        for value in values
    ]
    return model.from_db(connection.alias, names, values)
