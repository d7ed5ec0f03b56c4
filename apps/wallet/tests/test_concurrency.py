"""Real threads against PostgreSQL: concurrent wallet changes never lose an update or overdraw."""

import threading

import pytest
from django.db import connection

from apps.accounts.tests.factories import UserFactory
from apps.common.tests.fixtures import client_with_key
from apps.wallet.errors import InsufficientBalance
from apps.wallet.models import LedgerEntry
from apps.wallet.selectors import wallet_balance
from apps.wallet.services import wallet_charge, wallet_debit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


def run_in_threads(count: int, work) -> list:
    """Start `count` threads at once; each runs work(index) and closes its connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(index):
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # collected and asserted on by the caller
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_charges_lose_no_update():
    user = UserFactory()

    results = run_in_threads(20, lambda i: wallet_charge(user=user, amount=100))

    assert all(isinstance(result, int) for result in results), results
    assert wallet_balance(user=user) == 2000
    assert sorted(LedgerEntry.objects.values_list("balance_after", flat=True)) == list(range(100, 2001, 100))


def test_concurrent_debits_never_go_below_zero():
    user = UserFactory()
    wallet_charge(user=user, amount=1000)

    results = run_in_threads(20, lambda i: wallet_debit(user=user, amount=300, reference=f"payment:{i}"))

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

    results = run_in_threads(8, charge)

    assert results == [(200, {"user_id": user.pk, "balance": 500})] * 8
    assert wallet_balance(user=user) == 500
