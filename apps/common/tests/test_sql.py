import datetime as dt

import pytest
from django.db import connection

from apps.accounts.models import User
from apps.common.sql import _converters, column_names, instance_from_row


@pytest.fixture
def fresh_converters():
    _converters.cache_clear()
    yield
    _converters.cache_clear()


def test_each_column_goes_through_its_backends_converters(monkeypatch, fresh_converters):
    """On PostgreSQL these columns need no converter, so the suite alone would not notice a
    wrong one on SQLite (the demo's default, where datetimes come back naive): a stand-in
    backend converter shows each value reaches its own field."""

    def converters_of(expression):
        if expression.target.name == "last_login":
            return [lambda value, expression, connection: value.replace(tzinfo=dt.UTC)]
        return []

    monkeypatch.setattr(connection.ops, "get_db_converters", converters_of)
    names = column_names(User)
    naive = dt.datetime(2030, 1, 2, 3, 4, 5)
    row = {name: None for name in names} | {"id": 7, "username": "ann", "is_active": True, "last_login": naive}

    user = instance_from_row(User, names, [row[name] for name in names])

    assert user.last_login == naive.replace(tzinfo=dt.UTC)
    assert (user.pk, user.username, user.is_active) == (7, "ann", True)
