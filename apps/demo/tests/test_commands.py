import io

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.accounts.selectors import user_for_api_key
from apps.concerts.models import Concert, Seat
from apps.wallet.selectors import wallet_balance

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_concerts_and_users_with_working_keys_and_money():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)

    keys = [line.split("api key ")[1].split()[0] for line in out.getvalue().splitlines() if "api key" in line]
    assert len(keys) == 3
    users = [user_for_api_key(key=key) for key in keys]
    assert all(user is not None for user in users)
    assert all(wallet_balance(user=user) > 0 for user in users)
    assert Concert.objects.count() >= 2
    assert Seat.objects.filter(concert_date__concert__in=Concert.objects.all()).count() >= 100


def test_seed_demo_again_keeps_rows_and_rotates_keys():
    first, second = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=first)
    seats = Seat.objects.count()

    call_command("seed_demo", stdout=second)

    old_key = first.getvalue().split("api key ")[1].split()[0]
    assert user_for_api_key(key=old_key) is None
    assert Seat.objects.count() == seats
    assert User.objects.count() == 3
