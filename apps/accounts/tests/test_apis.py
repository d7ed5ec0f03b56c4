import pytest

from apps.accounts.models import User

pytestmark = pytest.mark.django_db

SIGNUP = "/api/v1/users"


def test_signup_returns_a_key_that_authenticates(api_client):
    response = api_client.post(SIGNUP, {"username": "minji"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "minji"
    assert body["id"] == User.objects.get(username="minji").pk
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {body['api_key']}")
    assert api_client.get(f"/api/v1/users/{body['id']}/wallet").status_code == 200
