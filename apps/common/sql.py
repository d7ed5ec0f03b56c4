"""Hand-written queries on the hot paths: rows turned into model instances without the ORM
building the SQL each time (which costs more than PostgreSQL running it; see BENCHMARKS.md).
They run on the default database, the only one this project has."""

import functools

from django.db import connection
from django.db.models import Model


def fetch_one(sql: str, params=()) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def column_names(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


def instance_from_row(model: type[Model], names: list[str], values) -> Model:
    """A model instance as the ORM would load it from these columns, through the same
    converters (on SQLite, for one, datetimes come back naive and booleans as integers)."""
    converted = list(values)
    for index, column, converters in _converters(model, tuple(names)):
        for convert in converters:
            converted[index] = convert(converted[index], column, connection)
    return model.from_db(connection.alias, names, converted)


@functools.cache
def _converters(model: type[Model], names: tuple[str, ...]) -> list[tuple]:
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    found = []
    for index, name in enumerate(names):
        column = by_attname[name].get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            found.append((index, column, converters))
    return found
