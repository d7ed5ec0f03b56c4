"""Every admin page staff use loads, and non-staff are kept out."""

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.concerts.tests.factories import date_with_seats
from apps.reservations.tests.factories import ReservationFactory
from apps.wallet.models import LedgerEntry, Wallet
from apps.wallet.services import wallet_charge

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "accounts_user",
    "concerts_concert",
    "concerts_seat",
    "concerts_concertdate",
    "reservations_reservation",
    "payments_payment",
    "wallet_wallet",
    "wallet_ledgerentry",
    "queue_queueentry",
    "queue_queuestate",
]


@pytest.fixture
def populated(db):
    concert_date = date_with_seats(seats=5)
    ReservationFactory(seat=concert_date.seats.first())
    wallet_charge(user=UserFactory(), amount=1000)
    return concert_date


@pytest.mark.parametrize("name", CHANGELISTS)
def test_staff_see_every_changelist(admin_client, populated, name):
    assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200


def test_non_staff_are_sent_to_the_login_page(client, user):
    client.force_login(user)

    response = client.get(reverse("admin:wallet_wallet_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_balances_cannot_be_edited_only_adjusted_through_the_ledger(admin_client, user):
    wallet_charge(user=user, amount=1000)
    wallet = Wallet.objects.get(user=user)

    edit = admin_client.post(reverse("admin:wallet_wallet_change", args=[wallet.pk]), {"balance": 99999999})
    adjust = admin_client.post(
        reverse("admin:wallet_wallet_adjust", args=[wallet.pk]), {"amount": -250, "reason": "refund of fee"}
    )

    assert edit.status_code == 403
    assert adjust.status_code == 302
    wallet.refresh_from_db()
    assert wallet.balance == 750
    entry = LedgerEntry.objects.latest("id")
    assert (entry.kind, entry.amount, entry.balance_after) == ("ADJUSTMENT", -250, 750)
    assert "refund of fee" in entry.reference


def test_an_adjustment_below_zero_is_refused_with_a_message(admin_client, user):
    wallet_charge(user=user, amount=100)
    wallet = Wallet.objects.get(user=user)

    response = admin_client.post(
        reverse("admin:wallet_wallet_adjust", args=[wallet.pk]), {"amount": -101, "reason": "x"}
    )

    assert response.status_code == 200
    assert "out of range" in response.content.decode()
    wallet.refresh_from_db()
    assert wallet.balance == 100
