"""What every API viewset shares (apps/common/viewsets.py): a wrong method is 405 before any
credential or throttle; the contract's paths, byte for byte."""

import pytest
from django.conf import settings
from django.test.utils import override_settings
from rest_framework.test import APIClient

from apps.common.redis import get_redis
from apps.common.tests.fixtures import client_with_key
from apps.reservations.tests.helpers import assert_problem

pytestmark = pytest.mark.django_db

# (path, a method it does not serve) for every route; ids that name nothing are fine: no
# credential, id or body is looked at before the method.
WRONG_METHODS = [
    ("/api/v1/users", "get"),
    ("/api/v1/queue/tokens", "get"),
    ("/api/v1/queue/status", "post"),
    ("/api/v1/concerts", "post"),
    ("/api/v1/concerts/1/dates", "delete"),
    ("/api/v1/concerts/1/dates/2030-01-01/seats", "put"),
    ("/api/v1/reservations", "delete"),
    ("/api/v1/reservations/1", "post"),
    ("/api/v1/reservations/1", "patch"),
    ("/api/v1/payments", "get"),
    ("/api/v1/users/1/wallet", "post"),
    ("/api/v1/users/1/wallet/charge", "get"),
    ("/api/v1/users/1/wallet/transactions", "delete"),
]


@pytest.mark.parametrize("path, method", WRONG_METHODS)
def test_a_wrong_method_is_405_whatever_the_credentials(path, method):
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Token nope", HTTP_X_QUEUE_TOKEN="nope")

    for client in (APIClient(), forged):
        response = getattr(client, method)(path, {"any": "body"}, format="json")

        assert_problem(response, 405, "METHOD_NOT_ALLOWED")
        assert method.upper() not in response["Allow"]


@override_settings(THROTTLING=True, THROTTLE_RATES={**settings.THROTTLE_RATES, "signup": "1/min"})
def test_a_wrong_method_is_405_before_any_throttle_and_spends_none(api_client):
    assert api_client.post("/api/v1/users", {"username": "first"}, format="json").status_code == 201
    assert_problem(api_client.post("/api/v1/users", {"username": "second"}, format="json"), 429, "THROTTLED")

    for _ in range(3):
        assert_problem(api_client.get("/api/v1/users"), 405, "METHOD_NOT_ALLOWED")


@override_settings(THROTTLING=True, THROTTLE_RATES={**settings.THROTTLE_RATES, "wallet_charge": "1/min"})
def test_a_wrong_method_does_not_count_against_a_throttle(user, user_client):
    charge = f"/api/v1/users/{user.pk}/wallet/charge"
    for _ in range(3):
        assert_problem(user_client.get(charge), 405, "METHOD_NOT_ALLOWED")

    assert user_client.post(charge, {"amount": 10}, format="json").status_code == 200
    assert [key.decode() for key in get_redis().keys("throttle:*")] == [f"throttle:wallet_charge:{user.pk}"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/",
        "/api/v1/concerts/",
        "/api/v1/queue/tokens/",
        "/api/v1/reservations/",
        "/api/v1/reservations/1/",
        "/api/v1/concerts/1/dates/",
        "/api/v1/concerts/1",
        "/api/v1/users/1",
        "/api/v1/users/1/wallet/",
        "/api/v1/concerts.json",
        "/api/v1/reservations%0A",  # a newline: a regex route ending in "$" would take it
    ],
)
def test_no_path_but_the_contracts_is_served(user_client, path):
    assert_problem(user_client.get(path), 404, "NOT_FOUND")


def test_ids_in_paths_are_matched_as_any_text_and_judged_by_the_action(user, booking_client):
    """As the contract's paths always were: "1.5" reaches the action, which says the id names
    nothing (a router's default pattern would refuse the dot with a bare 404)."""
    assert_problem(booking_client.get("/api/v1/concerts/1.5/dates"), 404, "CONCERT_NOT_FOUND")
    assert_problem(client_with_key(user).get("/api/v1/reservations/1.5"), 404, "RESERVATION_NOT_FOUND")
    assert_problem(client_with_key(user).get("/api/v1/users/1.5/wallet"), 403, "FORBIDDEN")
