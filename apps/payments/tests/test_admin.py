import datetime as dt
import re
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.concerts.models import ConcertDate
from apps.concerts.tests.factories import ConcertFactory, date_with_seats
from apps.payments.audit import ledger_audit
from apps.payments.models import Payment
from apps.payments.services import payment_create, reservation_cancel
from apps.queue.services import queue_token_issue
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.models import Reservation
from apps.reservations.selectors import seat_map
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import PRICE
from apps.wallet.models import LedgerEntry
from apps.wallet.selectors import wallet_balance
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


# --- the box office: the live sale page, and calling a date off ---

SALE_REFRESH = 'http-equiv="refresh"'


@pytest.fixture
def sale(settings, user, concert_date):
    """The concert's date 1 (10 seats): seats 1-2 bought by `user` (then seat 2 cancelled and
    refunded), seat 3 held; date 2 (3 seats) untouched. A line of five: two admitted, three wait."""
    settings.QUEUE_ACTIVE_LIMIT = 2
    second = date_with_seats(concert=concert_date.concert, date=concert_date.date + dt.timedelta(days=1), seats=3)
    wallet_charge(user=user, amount=1_000_000)
    seats = {seat.number: seat for seat in concert_date.seats.all()}
    bought = [ReservationFactory(user=user, seat=seats[n]) for n in (1, 2)]
    payment_create(
        user=user, reservation_ids=[r.pk for r in bought], queue_entry_id=QueueEntryFactory(user=user, active=True).pk
    )
    reservation_cancel(user=user, reservation_id=bought[1].pk)
    held = ReservationFactory(seat=seats[3])
    for n in range(5):
        queue_token_issue(user=UserFactory(username=f"fan{n}"))
    return SimpleNamespace(concert=concert_date.concert, first=concert_date, second=second, held=held)


def sale_url(concert) -> str:
    return reverse("admin:payments_sale", args=[concert.pk])


def cancel_url(*dates) -> str:
    return reverse("admin:payments_concert_dates_cancel") + "?ids=" + ",".join(str(d.pk) for d in dates)


def figure(page: str, field: str) -> str:
    return re.search(rf'data-field="{field}">([^<]*)<', page).group(1)


class TestLiveSale:
    def test_the_line_the_seats_and_the_money(self, admin_client, sale, settings):
        settings.TIME_ZONE = "Asia/Seoul"

        response = admin_client.get(sale_url(sale.concert))

        assert response.status_code == 200
        page = response.text
        assert SALE_REFRESH in page
        assert (figure(page, "waiting"), figure(page, "active")) == ("3", "2")
        assert "active of 2" in page
        assert (figure(page, "revenue"), figure(page, "refunded"), figure(page, "net")) == (
            "₩300,000",
            "₩150,000",
            "₩150,000",
        )
        first, second = response.context["overview"].dates
        assert (first.seats.seats, first.seats.free, first.seats.held, first.seats.sold) == (10, 8, 1, 1)
        assert (first.payments, first.revenue, first.refunds, first.refunded, first.state) == (
            2,
            300_000,
            1,
            150_000,
            "on sale",
        )
        assert (second.seats.free, second.revenue, second.state) == (3, 0, "on sale")
        assert re.search(r"As of <strong>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST</strong>", page)
        assert reverse("admin:queue_queuestate_change", args=[1]) in page

    def test_admissions_per_minute_from_what_postgresql_recorded(self, admin_client, sale):
        now = timezone.now()
        for minutes_ago in (0.1, 0.5, 1.5, 4.5, 7):
            QueueEntryFactory(active=True, admitted_at=now - dt.timedelta(minutes=minutes_ago))

        overview = admin_client.get(sale_url(sale.concert)).context["overview"]

        # Just now too: the fixture's buyer, and the two the line let in at once.
        assert overview.queue.per_minute == [1, 0, 0, 1, 5]
        assert [count for _, count in overview.admissions] == [1, 0, 0, 1, 5]

    def test_a_concert_with_no_dates_yet(self, admin_client):
        concert = ConcertFactory()

        response = admin_client.get(sale_url(concert))

        assert response.status_code == 200
        assert "No dates yet" in response.text

    def test_the_page_reads_in_a_fixed_number_of_queries(self, admin_client, sale, django_assert_max_num_queries):
        for day in range(2, 6):
            date_with_seats(concert=sale.concert, date=sale.first.date + dt.timedelta(days=day), seats=50)

        with django_assert_max_num_queries(9):  # the user, then one per figure: not one per date
            assert admin_client.get(sale_url(sale.concert)).status_code == 200

    def test_an_unknown_concert_is_404(self, admin_client):
        assert admin_client.get(reverse("admin:payments_sale", args=[999_999])).status_code == 404
        assert admin_client.get(reverse("admin:payments_sale", args=[10**30])).status_code == 404

    def test_staff_who_may_not_see_payments_may_not_see_it(self, client, sale):
        staff = UserFactory(is_staff=True)
        staff.user_permissions.add(Permission.objects.get(codename="view_concertdate"))
        client.force_login(staff)

        assert client.get(sale_url(sale.concert)).status_code == 403

    def test_linked_from_the_concert_page_the_concert_list_the_dates_and_the_index(self, admin_client, sale):
        url = sale_url(sale.concert)
        pages = [
            reverse("admin:concerts_concert_change", args=[sale.concert.pk]),
            reverse("admin:concerts_concert_changelist"),
            reverse("admin:concerts_concertdate_change", args=[sale.first.pk]),
            reverse("admin:concerts_concertdate_changelist"),
            reverse("admin:index"),
        ]

        for page in pages:
            assert url in admin_client.get(page).text, page


class TestCallingADateOff:
    def test_the_action_shows_what_will_happen_and_changes_nothing(self, admin_client, sale):
        response = admin_client.post(
            reverse("admin:concerts_concertdate_changelist"),
            {"action": "cancel_dates", "_selected_action": [sale.first.pk]},
            follow=True,
        )

        assert response.redirect_chain[0][0] == cancel_url(sale.first)
        [(row, preview)] = response.context["previews"]
        assert row.concert_date == sale.first
        assert (preview.refunded_seats, preview.refund_total, preview.released_holds) == (1, 150_000, 1)
        assert "₩150,000" in response.text
        assert 'name="confirm" value="yes"' in response.text
        sale.first.refresh_from_db()
        sale.held.refresh_from_db()
        assert sale.first.cancelled_at is None
        assert sale.held.status == Reservation.Status.HELD

    def test_confirming_refunds_releases_and_closes_and_a_retry_does_nothing_more(self, admin_client, sale, user):
        first = admin_client.post(cancel_url(sale.first), {"confirm": "yes"}, follow=True)
        again = admin_client.post(cancel_url(sale.first), {"confirm": "yes"}, follow=True)

        assert first.redirect_chain[-1][0] == reverse("admin:concerts_concertdate_change", args=[sale.first.pk])
        assert "is called off: 1 seat(s) refunded (₩150,000), 1 hold(s) released." in first.text
        assert "is called off: 0 seat(s) refunded (₩0), 0 hold(s) released." in again.text
        assert wallet_balance(user=user) == 1_000_000
        assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 2
        sale.first.refresh_from_db()
        assert sale.first.cancelled_at is not None
        assert not any(
            seat["available"] for seat in seat_map(concert_id=sale.concert.pk, date=sale.first.date, now=timezone.now())
        )
        assert ledger_audit() == []
        # The date page and the live sale say so, and no longer offer to call it off.
        assert "called off" in admin_client.get(sale_url(sale.concert)).text
        assert cancel_url(sale.first) not in admin_client.get(sale_url(sale.concert)).text

    def test_a_date_called_off_shows_zeros_in_its_preview(self, admin_client, sale):
        admin_client.post(cancel_url(sale.first), {"confirm": "yes"})

        response = admin_client.get(cancel_url(sale.first))

        [(_, preview)] = response.context["previews"]
        assert (preview.refunded_seats, preview.refund_total, preview.released_holds) == (0, 0, 0)
        assert "called off already" in response.text

    def test_several_dates_at_once(self, admin_client, sale):
        response = admin_client.post(cancel_url(sale.first, sale.second), {"confirm": "yes"}, follow=True)

        assert response.redirect_chain[-1][0] == reverse("admin:concerts_concertdate_changelist")
        assert response.text.count("is called off") == 2
        assert {d.cancelled_at is not None for d in ConcertDate.objects.all()} == {True}

    def test_without_confirming_nothing_happens(self, admin_client, sale):
        response = admin_client.post(cancel_url(sale.first), {})

        assert response.status_code == 200
        sale.first.refresh_from_db()
        assert sale.first.cancelled_at is None

    @pytest.mark.parametrize("ids", ["", "0,x", "99999999"])
    def test_no_date_chosen_goes_back_to_the_list(self, admin_client, ids):
        response = admin_client.get(reverse("admin:payments_concert_dates_cancel") + f"?ids={ids}")

        assert response["Location"] == reverse("admin:concerts_concertdate_changelist")

    def test_only_staff_who_may_change_dates_and_wallets(self, client, admin_client, sale):
        staff = UserFactory(is_staff=True)
        staff.user_permissions.add(*Permission.objects.filter(codename__in=["change_concertdate", "view_concertdate"]))
        client.force_login(staff)
        date_page = reverse("admin:concerts_concertdate_change", args=[sale.first.pk])

        response = client.post(cancel_url(sale.first), {"confirm": "yes"})

        assert response.status_code == 403
        assert cancel_url(sale.first) not in client.get(date_page).text
        assert cancel_url(sale.first) in admin_client.get(date_page).text
        sale.first.refresh_from_db()
        assert sale.first.cancelled_at is None
