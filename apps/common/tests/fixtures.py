"""Fixtures shared by every app's tests."""

import pytest
from django.core import signals
from django.db import close_old_connections
from rest_framework.test import APIClient

from apps.accounts.services import api_key_issue
from apps.accounts.tests.factories import UserFactory
from apps.queue.tests.factories import QueueEntryFactory
from apps.queue.tokens import token_for


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


def client_with_key(user) -> APIClient:
    """A client that sends `Authorization: Token <a fresh key of user>`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_issue(user=user)}")
    return client


def client_with_queue_token(entry) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_QUEUE_TOKEN=token_for(entry))
    return client


@pytest.fixture
def user_client(user) -> APIClient:
    return client_with_key(user)


@pytest.fixture
def active_entry(user):
    return QueueEntryFactory(user=user, active=True)


@pytest.fixture
def booking_client(active_entry) -> APIClient:
    """A client holding an ACTIVE queue token of `user`."""
    return client_with_queue_token(active_entry)


@pytest.fixture
def wsgi_in_test_transaction():
    """For tests that call the WSGI application themselves (not through Django's test client):
    like the test client, a finished request must not close the test's connection, whose open
    transaction holds the test's data."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
