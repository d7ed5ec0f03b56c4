import pytest
from django.urls import reverse

from apps.payments.models import Payment
from apps.payments.services import payment_create
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import PRICE
from apps.wallet.services import wallet_charge

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment(user, concert_date) -> Payment:
    wallet_charge(user=user, amount=1_000_000)
    ids = [ReservationFactory(user=user, seat=seat).pk for seat in concert_date.seats.all()[:2]]
    payment, _ = payment_create(
        user=user, reservation_ids=ids, queue_entry_id=QueueEntryFactory(user=user, active=True).pk
    )
    return payment


def test_staff_see_payments_with_their_items(admin_client, payment):
    changelist = admin_client.get(reverse("admin:payments_payment_changelist"), {"q": payment.user.username})
    change = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))

    assert [p.pk for p in changelist.context["cl"].result_list] == [payment.pk]
    assert change.status_code == 200
    assert change.context["inline_admin_formsets"][0].formset.queryset.count() == 2


def test_payments_are_read_only(admin_client, payment):
    change_url = reverse("admin:payments_payment_change", args=[payment.pk])

    page = admin_client.get(change_url)
    posted = admin_client.post(change_url, {"amount": 1, "status": "PAID"})

    assert not page.context["has_change_permission"]
    assert 'name="_save"' not in page.content.decode()
    assert posted.status_code == 403
    assert admin_client.get(reverse("admin:payments_payment_add")).status_code == 403
    assert admin_client.get(reverse("admin:payments_payment_delete", args=[payment.pk])).status_code == 403
    payment.refresh_from_db()
    assert payment.amount == 2 * PRICE
