import pytest

from apps.accounts.tests.factories import UserFactory
from apps.common.fields import MAX_BIGINT
from apps.common.tests.fixtures import client_with_key
from apps.wallet.models import MAX_BALANCE, LedgerEntry, Wallet
from apps.wallet.selectors import wallet_balance
from apps.wallet.services import wallet_charge, wallet_debit

pytestmark = pytest.mark.django_db


def charge_url(user_id) -> str:
    return f"/api/v1/users/{user_id}/wallet/charge"


def test_a_new_wallet_reads_zero(user, user_client):
    response = user_client.get(f"/api/v1/users/{user.pk}/wallet")

    assert response.status_code == 200
    assert response.json() == {"user_id": user.pk, "balance": 0}


def test_charge_adds_to_the_balance_and_writes_the_ledger(user, user_client):
    first = user_client.post(charge_url(user.pk), {"amount": 50_000}, format="json")
    second = user_client.post(charge_url(user.pk), {"amount": 25_000}, format="json")

    assert first.status_code == 200
    assert first.json() == {"user_id": user.pk, "balance": 50_000}
    assert second.json() == {"user_id": user.pk, "balance": 75_000}
    assert user_client.get(f"/api/v1/users/{user.pk}/wallet").json()["balance"] == 75_000
    entries = list(LedgerEntry.objects.order_by("id").values_list("kind", "amount", "balance_after"))
    assert entries == [("CHARGE", 50_000, 50_000), ("CHARGE", 25_000, 75_000)]


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0},
        {"amount": -1},
        {"amount": 1_000_000_001},
        {"amount": "100"},
        {"amount": 100.0},
        {"amount": 1.5},
        {"amount": True},
        {"amount": None},
        {"amount": [100]},
        {"amount": MAX_BIGINT + 1},
        {},
        [],
        "100",
    ],
)
def test_charge_rejects_anything_but_an_integer_in_range(user, user_client, body):
    response = user_client.post(charge_url(user.pk), body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "INVALID_AMOUNT"
    assert wallet_balance(user=user) == 0
    assert not LedgerEntry.objects.exists()


def test_charge_with_malformed_json_is_invalid_amount(user, user_client):
    response = user_client.post(charge_url(user.pk), data=b'{"amount": 5', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_AMOUNT"


def test_charge_limits_are_inclusive(user, user_client):
    assert user_client.post(charge_url(user.pk), {"amount": 1}, format="json").status_code == 200
    assert user_client.post(charge_url(user.pk), {"amount": 1_000_000_000}, format="json").status_code == 200


def test_a_charge_past_the_balance_cap_is_refused_and_changes_nothing(user, user_client):
    Wallet.objects.create(user=user, balance=MAX_BALANCE - 10)

    refused = user_client.post(charge_url(user.pk), {"amount": 11}, format="json")
    allowed = user_client.post(charge_url(user.pk), {"amount": 10}, format="json")

    assert refused.status_code == 400
    assert refused.json()["code"] == "INVALID_AMOUNT"
    assert allowed.json()["balance"] == MAX_BALANCE


@pytest.mark.parametrize("path", ["/wallet", "/wallet/transactions"])
@pytest.mark.parametrize("other_id", ["other", "999999999", "abc", "99999999999999999999999", "0"])
def test_another_users_wallet_is_403_whether_or_not_it_exists(user_client, path, other_id):
    other = UserFactory()
    user_id = other.pk if other_id == "other" else other_id

    response = user_client.get(f"/api/v1/users/{user_id}{path}")

    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


def test_charging_another_users_wallet_is_403_and_changes_nothing(user_client):
    other = UserFactory()

    response = user_client.post(charge_url(other.pk), {"amount": 100}, format="json")

    assert response.status_code == 403
    assert wallet_balance(user=other) == 0


def test_transactions_are_newest_first_with_balance_after(user, user_client):
    wallet_charge(user=user, amount=1000)
    wallet_debit(user=user, amount=300, reference="payment:1")
    wallet_charge(user=user, amount=50)

    response = user_client.get(f"/api/v1/users/{user.pk}/wallet/transactions")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    rows = [(row["kind"], row["amount"], row["balance_after"]) for row in body["results"]]
    assert rows == [("CHARGE", 50, 750), ("PAYMENT", -300, 700), ("CHARGE", 1000, 1000)]
    assert set(body["results"][0]) == {"id", "kind", "amount", "balance_after", "created_at"}


def test_transactions_show_only_my_own(user, user_client):
    wallet_charge(user=UserFactory(), amount=999)

    assert user_client.get(f"/api/v1/users/{user.pk}/wallet/transactions").json()["count"] == 0


class TestIdempotentCharge:
    def post(self, client, user, body, key="charge-1"):
        return client.post(charge_url(user.pk), body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    def test_a_retry_returns_the_first_response_and_charges_once(self, user, user_client):
        first = self.post(user_client, user, {"amount": 700})
        wallet_charge(user=user, amount=5)  # the balance moves on in between
        retry = self.post(user_client, user, {"amount": 700})

        assert first.status_code == retry.status_code == 200
        assert retry.json() == first.json() == {"user_id": user.pk, "balance": 700}
        assert wallet_balance(user=user) == 705
        assert LedgerEntry.objects.filter(amount=700).count() == 1

    def test_the_same_key_with_another_body_is_422(self, user, user_client):
        self.post(user_client, user, {"amount": 700})

        response = self.post(user_client, user, {"amount": 701})

        assert response.status_code == 422
        assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert wallet_balance(user=user) == 700

    def test_a_failed_request_is_not_remembered(self, user, user_client):
        assert self.post(user_client, user, {"amount": 0}).status_code == 400

        response = self.post(user_client, user, {"amount": 10})

        assert response.status_code == 200
        assert wallet_balance(user=user) == 10

    def test_keys_belong_to_one_user(self, user, user_client):
        other = UserFactory()
        self.post(user_client, user, {"amount": 700})

        response = self.post(client_with_key(other), other, {"amount": 900})

        assert response.json() == {"user_id": other.pk, "balance": 900}

    def test_a_key_longer_than_255_characters_is_refused(self, user, user_client):
        response = self.post(user_client, user, {"amount": 10}, key="k" * 256)

        assert response.status_code == 400
        assert wallet_balance(user=user) == 0

    @pytest.mark.parametrize("key", ["two words", "caf\u00e9", ""])
    def test_a_key_of_anything_but_visible_ascii_is_refused(self, user, user_client, key):
        response = self.post(user_client, user, {"amount": 10}, key=key)

        assert response.status_code == 400
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert response.json()["errors"][0]["field"] == "Idempotency-Key"
        assert wallet_balance(user=user) == 0

    def test_an_invalid_body_with_a_used_key_is_422(self, user, user_client):
        self.post(user_client, user, {"amount": 700})

        response = self.post(user_client, user, {"amount": 0})

        assert response.status_code == 422
        assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"

    def test_a_retry_is_judged_on_the_credentials_it_carries(self, user, user_client):
        self.post(user_client, user, {"amount": 700})
        user.is_active = False
        user.save(update_fields=["is_active"])

        assert self.post(user_client, user, {"amount": 700}).status_code == 401

    def test_the_same_json_with_other_spacing_is_the_same_body(self, user, user_client):
        self.post(user_client, user, {"amount": 700})

        retry = user_client.post(
            charge_url(user.pk),
            data=b'{ "amount" :700 }',
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="charge-1",
        )

        assert retry.status_code == 200
        assert wallet_balance(user=user) == 700


def test_charges_are_throttled_per_user(user, user_client, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "wallet_charge": "2/min"}
    other = UserFactory()
    for _ in range(2):
        assert user_client.post(charge_url(user.pk), {"amount": 10}, format="json").status_code == 200

    refused = user_client.post(charge_url(user.pk), {"amount": 10}, format="json")

    assert refused.status_code == 429
    assert refused.json()["code"] == "THROTTLED"
    assert int(refused["Retry-After"]) > 0
    assert wallet_balance(user=user) == 20
    assert client_with_key(other).post(charge_url(other.pk), {"amount": 10}, format="json").status_code == 200
