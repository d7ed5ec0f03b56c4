"""No credential is stored in a usable form: a dump of every table finds neither API keys nor
queue tokens nor web sessions, and what it does find cannot be turned into a working credential."""

import pytest
from django.conf import settings
from django.core import signing
from django.db import connection
from rest_framework.test import APIClient

from apps.accounts.models import ApiKey
from apps.queue.models import QueueEntry

pytestmark = pytest.mark.django_db


def dump_everything() -> str:
    """Every row of every table as text, like a pg_dump would contain."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT t::text FROM "{table}" t')
            rows += [row[0] for row in cursor.fetchall()]
    return "\n".join(rows)


@pytest.fixture
def credentials(api_client):
    signup = api_client.post("/api/v1/users", {"username": "minji"}, format="json").json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {signup['api_key']}")
    token = api_client.post("/api/v1/queue/tokens").json()["token"]
    api_client.post(
        f"/api/v1/users/{signup['id']}/wallet/charge", {"amount": 10}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    return signup["api_key"], token


def test_no_api_key_or_queue_token_appears_in_any_table(credentials):
    api_key, token = credentials
    dump = dump_everything()

    assert api_key not in dump
    assert api_key.removeprefix("cbk_") not in dump
    assert token not in dump
    assert token.rsplit(":", 1)[1] not in dump  # the signature part


def test_what_a_dump_holds_is_not_a_working_api_key(credentials):
    digest = ApiKey.objects.get().digest
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {digest}")

    assert client.get("/api/v1/reservations").status_code == 401


def test_a_queue_token_cannot_be_built_from_a_dump(credentials):
    entry = QueueEntry.objects.get()
    unsigned = f"{entry.pk}.{entry.nonce}"
    signed_with_another_key = signing.Signer(key="guessed-secret", salt="apps.queue.token").sign(unsigned)

    for forged in (unsigned, signed_with_another_key, f"{unsigned}:"):
        client = APIClient()
        client.credentials(HTTP_X_QUEUE_TOKEN=forged)
        response = client.get("/api/v1/queue/status")
        assert response.status_code == 401
        assert response.json()["code"] == "QUEUE_TOKEN_INVALID"


def test_web_sessions_keep_nothing_in_the_database(client):
    # Sessions live in the cache (Redis): the database holds neither the cookie's session key nor
    # what the session holds.
    client.post("/signup", {"username": "minji"})
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value

    assert client.get("/").context["request"].web_user.username == "minji"
    assert session_key not in dump_everything()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_session")
        assert cursor.fetchone() == (0,)
