"""Real threads against PostgreSQL: concurrent wallet changes never lose an update or overdraw."""

import pytest

from apps.accounts.tests.factories import UserFactory
from apps.common.tests.fixtures import client_with_key
from apps.common.tests.threads import run_in_threads
from apps.wallet.errors import InsufficientBalance
from apps.wallet.models import LedgerEntry
from apps.wallet.selectors import wallet_balance
from apps.wallet.services import wallet_charge, wallet_debit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


def test_concurrent_charges_lose_no_update():
    user = UserFactory()

    results = run_in_threads(lambda i: wallet_charge(user=user, amount=100), 20)

    assert all(isinstance(result, int) for result in results), results
    assert wallet_balance(user=user) == 2000
    assert sorted(LedgerEntry.objects.values_list("balance_after", flat=True)) == list(range(100, 2001, 100))


def test_concurrent_debits_never_go_below_zero():
    user = UserFactory()
    wallet_charge(user=user, amount=1000)

    results = run_in_threads(lambda i: wallet_debit(user=user, amount=300, reference=f"payment:{i}"), 20)

    succeeded = [r for r in results if isinstance(r, int)]
    assert len(succeeded) == 3
    assert all(isinstance(r, InsufficientBalance) for r in results if not isinstance(r, int))
    assert wallet_balance(user=user) == 100
    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == 100


def test_concurrent_retries_with_one_idempotency_key_charge_once():
    user = UserFactory()
    clients = [client_with_key(user) for _ in range(8)]

    def charge(index):
        response = clients[index].post(
            f"/api/v1/users/{user.pk}/wallet/charge", {"amount": 500}, format="json", HTTP_IDEMPOTENCY_KEY="same"
        )
        return response.status_code, response.json()

    results = run_in_threads(charge, 8)

    assert results == [(200, {"user_id": user.pk, "balance": 500})] * 8
    assert wallet_balance(user=user) == 500
