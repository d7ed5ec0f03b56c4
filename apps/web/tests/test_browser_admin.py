"""The box office in Django admin, in headless Chromium: a sale set up from nothing, watched live
and called off. Each step leaves a screenshot in screenshots/admin-*.png (git-ignored).

Uses the browser and pages of test_browser.py (Debian's chromium: scripts/install_browser.sh).
"""

import datetime as dt
import re

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.tests.factories import UserFactory
from apps.concerts.models import ConcertDate
from apps.payments.services import payment_create
from apps.queue.services import queue_token_issue
from apps.queue.tests.factories import QueueEntryFactory
from apps.reservations.services import reservation_hold
from apps.wallet.services import wallet_charge
from apps.web.tests.test_browser import CHROMIUM, browser, new_page, shot  # noqa: F401, F811 (fixtures)

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run scripts/install_browser.sh"),
    pytest.mark.django_db(transaction=True),
]

WIDE = {"width": 1280, "height": 900}
PASSWORD = "box-office-2027"


@pytest.fixture
def staff_page(new_page):  # noqa: F811 (the fixture imported above)
    UserFactory(username="boxoffice", is_staff=True, is_superuser=True, password=make_password(PASSWORD))
    page = new_page(viewport=WIDE)
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("boxoffice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    return page


def buy(concert_date: ConcertDate, *seat_numbers: int) -> None:
    buyer = UserFactory()
    wallet_charge(user=buyer, amount=1_000_000)
    holds = [
        reservation_hold(user=buyer, concert_id=concert_date.concert_id, date=concert_date.date, seat_number=n)
        for n in seat_numbers
    ]
    entry = QueueEntryFactory(user=buyer, active=True)
    payment_create(user=buyer, reservation_ids=[hold.pk for hold in holds], queue_entry_id=entry.pk)


def test_a_sale_from_nothing_to_called_off(staff_page, settings):
    settings.QUEUE_ACTIVE_LIMIT = 3
    settings.TIME_ZONE = "Asia/Seoul"
    page = staff_page
    first_day = timezone.localdate() + dt.timedelta(days=40)

    # Set up: the concert, two dates and their seats (tiered prices) on one page.
    page.goto("/admin/concerts/concert/add/")
    page.get_by_label("Title").fill("IU Golden Hour")
    page.get_by_label("Venue").fill("Olympic Gymnastics Arena, Seoul")
    page.locator('input[name="dates-0-date"]').fill(first_day.isoformat())
    page.get_by_text("Add another Concert date").click()
    page.locator('input[name="dates-1-date"]').fill((first_day + dt.timedelta(days=1)).isoformat())
    page.get_by_label("Seats per date").fill("50")
    page.get_by_label("Price (won)").fill("150000")
    page.get_by_label("Price tiers").fill("1-10: 200,000")
    shot(page, "admin-01-concert-set-up")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("50 seat(s) created, 0 repriced")
    expect(page.get_by_text("50 at ₩150,000 to ₩200,000")).to_have_count(2)
    shot(page, "admin-02-concert-saved-with-seats")

    # Sales happen: seats bought and held, people in line.
    dates = list(ConcertDate.objects.order_by("date"))
    buy(dates[0], 1, 2, 3, 12)
    buy(dates[0], 20)
    reservation_hold(user=UserFactory(), concert_id=dates[0].concert_id, date=dates[0].date, seat_number=30)
    for n in range(7):
        queue_token_issue(user=UserFactory(username=f"fan{n}"))

    # The date's seats as a grid.
    page.goto(f"/admin/concerts/concertdate/{dates[0].pk}/change/")
    expect(page.locator(".seat-grid .seat")).to_have_count(50)
    expect(page.locator(".seat-grid .seat.sold")).to_have_count(5)
    expect(page.locator(".seat-grid .seat.held")).to_have_count(1)
    shot(page, "admin-03-date-seat-grid")

    # The action on dates: generate seats (the second date gets 40 at one price: nothing is removed).
    page.goto("/admin/concerts/concertdate/")
    page.locator(f'input[name="_selected_action"][value="{dates[1].pk}"]').check()
    page.locator('select[name="action"]').select_option("generate_seats")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("heading", name="Generate seats")).to_be_visible()
    page.get_by_label("Seats per date").fill("50")
    page.get_by_label("Price (won)").fill("120000")
    shot(page, "admin-04-generate-seats")
    page.get_by_role("button", name="Generate seats").click()
    expect(page.locator(".messagelist")).to_contain_text("0 seat(s) created, 50 repriced")

    # The live sale, from the admin index.
    page.goto("/admin/")
    shot(page, "admin-05-index-box-office")
    page.get_by_role("link", name=re.compile("Live sale: IU Golden Hour")).click()
    expect(page.locator('[data-field="waiting"]')).to_have_text("4")
    expect(page.locator('[data-field="active"]')).to_have_text("3")
    expect(page.locator('[data-field="revenue"]')).to_have_text("₩900,000")
    expect(page.get_by_text(re.compile(r"As of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST"))).to_be_visible()
    shot(page, "admin-06-live-sale")

    # Call the first date off: what it will do first, then done, and a retry does nothing more.
    page.locator(f'tr[data-date="{dates[0].date.isoformat()}"]').get_by_role("link", name="Call off…").click()
    preview = page.get_by_test_id("preview")
    expect(preview).to_contain_text("₩900,000")
    shot(page, "admin-07-call-off-preview")
    page.get_by_role("button", name="Yes, call it off and refund").click()
    expect(page.locator(".messagelist")).to_contain_text("5 seat(s) refunded (₩900,000), 1 hold(s) released.")
    expect(page.locator(".seat-grid .seat.free")).to_have_count(50)
    shot(page, "admin-08-called-off")
    page.go_back()
    page.get_by_role("button", name="Yes, call it off and refund").click()
    expect(page.locator(".messagelist")).to_contain_text("0 seat(s) refunded (₩0), 0 hold(s) released.")

    page.goto(f"/admin/payments/payment/sale/{dates[0].concert_id}/")
    expect(page.locator('[data-field="refunded"]')).to_have_text("₩900,000")
    expect(page.locator(f'tr[data-date="{dates[0].date.isoformat()}"]')).to_contain_text("called off")
    shot(page, "admin-09-live-sale-after-call-off")

    # The queue's switches, one click from the live sale.
    page.get_by_role("link", name="Pause or change the limit").click()
    expect(page.get_by_text("4 waiting, 3 active (limit 3)")).to_be_visible()
    shot(page, "admin-10-queue-control")
