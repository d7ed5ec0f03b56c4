import pytest
from django.conf import settings
from django.test import override_settings

from apps.accounts.models import ApiKey, User
from apps.accounts.services import user_create
from apps.accounts.tests.factories import UserFactory
from apps.common.errors import ValidationFailed

pytestmark = pytest.mark.django_db

SIGNUP = "/api/v1/users"
PROBLEM = "application/problem+json"


def test_signup_returns_a_key_that_authenticates(api_client):
    response = api_client.post(SIGNUP, {"username": "minji"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username", "api_key"}
    assert body["username"] == "minji"
    assert body["id"] == User.objects.get(username="minji").pk
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {body['api_key']}")
    assert api_client.get(f"/api/v1/users/{body['id']}/wallet").status_code == 200


def test_signup_keeps_only_a_digest_of_the_key(api_client):
    key = api_client.post(SIGNUP, {"username": "minji"}, format="json").json()["api_key"]

    stored = ApiKey.objects.get(user__username="minji")
    assert key not in (stored.digest, stored.prefix)
    assert len(key) >= 40  # 256 random bits, url-safe


@pytest.mark.parametrize("taken", ["minji", "MinJi"])
def test_signup_with_a_taken_name_is_409_whatever_the_case(api_client, taken):
    UserFactory(username="minji")

    response = api_client.post(SIGNUP, {"username": taken}, format="json")

    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "USERNAME_TAKEN"
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"username": ""}, {"username": "has space"}, {"username": "x" * 151}, {"username": 5}, {"username": None}],
)
def test_signup_with_a_bad_name_is_a_validation_error(api_client, body):
    response = api_client.post(SIGNUP, body, format="json")

    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert problem["errors"][0]["field"] == "username"
    assert User.objects.count() == 0


def test_signup_with_malformed_json_is_a_validation_error(api_client):
    response = api_client.post(SIGNUP, data=b"{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("header", [None, "Token nope", "Token", "Bearer abc", "Token a b"])
def test_a_missing_or_wrong_key_is_401(api_client, user, header):
    if header:
        api_client.credentials(HTTP_AUTHORIZATION=header)

    response = api_client.get(f"/api/v1/users/{user.pk}/wallet")

    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "AUTHENTICATION_FAILED"


def test_credentials_are_checked_before_the_body(api_client, user):
    response = api_client.post(
        f"/api/v1/users/{user.pk}/wallet/charge", data=b"{broken", content_type="application/json"
    )

    assert response.status_code == 401


def test_a_deactivated_users_key_stops_working(user, user_client):
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert user_client.get(f"/api/v1/users/{user.pk}/wallet").status_code == 401


@override_settings(THROTTLE_RATES={**settings.THROTTLE_RATES, "signup": "2/min"})
def test_signup_is_throttled_per_client_ip(api_client):
    for name in ("a1", "a2"):
        assert api_client.post(SIGNUP, {"username": name}, format="json").status_code == 201

    response = api_client.post(SIGNUP, {"username": "a3"}, format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "THROTTLED"
    assert int(response["Retry-After"]) > 0
    assert not User.objects.filter(username="a3").exists()


@override_settings(THROTTLING=False, THROTTLE_RATES={"signup": "1/min"})
def test_throttling_off_disables_the_limit(api_client):
    for name in ("b1", "b2", "b3"):
        assert api_client.post(SIGNUP, {"username": name}, format="json").status_code == 201


# Usernames are compared in their NFKC form


@pytest.mark.parametrize("taken, asked", [("minji", "ｍｉｎｊｉ"), ("ｍｉｎｊｉ", "MINJI"), ("office", "oﬃce")])
def test_a_name_that_normalises_to_a_taken_one_is_409(api_client, taken, asked):
    assert api_client.post(SIGNUP, {"username": taken}, format="json").status_code == 201

    response = api_client.post(SIGNUP, {"username": asked}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "USERNAME_TAKEN"
    assert User.objects.count() == 1


def test_a_name_is_stored_and_answered_in_its_nfkc_form(api_client):
    response = api_client.post(SIGNUP, {"username": "ｍｉｎｊｉ①"}, format="json")

    assert response.status_code == 201
    assert response.json()["username"] == "minji1"
    assert User.objects.get().username == "minji1"


@pytest.mark.parametrize(
    "username",
    [
        "ﷺ",  # one letter, whose NFKC form has spaces
        "ﬃ" * 60,  # 60 characters, 180 once normalised
    ],
)
def test_a_name_is_judged_in_its_nfkc_form(api_client, username):
    response = api_client.post(SIGNUP, {"username": username}, format="json")

    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert problem["errors"][0]["field"] == "username"
    assert User.objects.count() == 0


@pytest.mark.parametrize("username", ["ﷺ", "ﬃ" * 60, ""])
def test_the_service_judges_the_nfkc_form_whoever_calls_it(username):
    with pytest.raises(ValidationFailed) as raised:
        user_create(username=username)

    assert raised.value.errors[0]["field"] == "username"
    assert User.objects.count() == 0
