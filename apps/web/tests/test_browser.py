"""The concert-goer's journey in headless Chromium against a live server.

Each step leaves a screenshot in screenshots/ (git-ignored) so a person can look at it.
Needs Debian's chromium (scripts/install_browser.sh); Playwright's own browser download is not used.
"""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from apps.accounts.tests.factories import UserFactory
from apps.concerts.tests.factories import ConcertFactory, date_with_seats
from apps.queue.models import QueueEntry
from apps.queue.services import queue_entry_end, queue_state_update, queue_token_issue
from apps.reservations.services import reservation_hold

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(django_settings.BASE_DIR) / "screenshots"
DESKTOP = {"width": 1100, "height": 860}
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run scripts/install_browser.sh"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def browser():
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API keeps an event loop in this thread, and Django refuses ORM calls
        # from a thread with a running loop; the tests' own ORM calls are plain synchronous code.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """Each call is another person: their own browser context (cookies, session)."""
    contexts = []
    expect.set_options(timeout=10_000)

    def make(*, viewport=DESKTOP):
        context = browser.new_context(base_url=live_server.url, viewport=viewport, locale="en-US")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


@pytest.fixture
def concert_date():
    concert = ConcertFactory(title="IU Golden Hour", venue="Olympic Gymnastics Arena, Seoul")
    return date_with_seats(concert=concert, price=150_000)


def sign_up_and_get_in_line(page, username: str) -> None:
    page.goto("/")
    page.get_by_label("Choose a username").fill(username)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("button", name="Get in line").click()


def test_the_journey_with_the_queue_moving_on(new_page, settings, concert_date):
    settings.QUEUE_ACTIVE_LIMIT = 1

    # Alice finds the line empty and goes straight to the dates.
    alice = new_page()
    alice.goto("/")
    shot(alice, "01-start")
    alice.get_by_label("Choose a username").fill("alice")
    alice.get_by_role("button", name="Sign up").click()
    expect(alice.get_by_role("heading", name="Hello, alice")).to_be_visible()
    expect(alice.locator(".api-key")).to_have_text(re.compile(r"^cbk_"))
    shot(alice, "02-signed-up")
    alice.get_by_role("button", name="Get in line").click()
    expect(alice).to_have_url(re.compile(r"/dates$"))
    expect(alice.get_by_role("heading", name="Choose a date")).to_be_visible()
    shot(alice, "03-dates")

    # Bora, on a phone and in Korean, has to wait: the one slot is Alice's.
    bora = new_page(viewport=PHONE)
    bora.goto("/")
    bora.get_by_role("button", name="한국어").click()
    bora.get_by_label("사용자 이름").fill("bora")
    bora.get_by_role("button", name="가입하기").click()
    bora.get_by_role("button", name="줄 서기").click()
    expect(bora).to_have_url(re.compile(r"/waiting-room$"))
    expect(bora.get_by_role("heading", name="대기실")).to_be_visible()
    expect(bora.locator('[data-field="position"]')).to_have_text("1")
    shot(bora, "04-waiting-room-ko-phone")

    # Alice's seat map: the price shows on hover, and the keyboard picks seats.
    alice.get_by_role("link", name=re.compile("50 seats free")).click()
    expect(alice.locator(".seat")).to_have_count(50)
    alice.locator('[data-seat="23"]').hover()
    expect(alice.locator('[data-seat="23"] .seat-price')).to_have_text("₩150,000")
    shot(alice, "05-seat-map-price-on-hover")
    alice.get_by_label("Seat 1, free, ₩150,000").focus()
    for key in ["ArrowRight", "ArrowRight", "Space", "ArrowDown", "Space"]:
        alice.keyboard.press(key)
    summary = alice.locator("[data-summary]")
    expect(summary).to_have_text("Picked: seats 3, 13 · total ₩300,000")
    # Meanwhile someone else takes seat 4, which Alice's page still shows free.
    reservation_hold(user=UserFactory(), concert_id=concert_date.concert_id, date=concert_date.date, seat_number=4)
    alice.locator('[data-seat="4"]').click()
    expect(summary).to_have_text("Picked: seats 3, 4, 13 · total ₩450,000")
    shot(alice, "06-seats-picked")
    alice.get_by_role("button", name="Hold these seats").click()

    # Checkout: seat 4 is explained, 3 and 13 are held with a countdown.
    expect(alice).to_have_url(re.compile(r"/checkout$"))
    expect(alice.get_by_role("alert").filter(has_text="Seat 4: Someone else has just taken this seat")).to_be_visible()
    expect(alice.get_by_role("timer")).to_have_text(re.compile(r"^4:5\d$"))
    expect(alice.get_by_test_id("total")).to_have_text("₩300,000")
    shot(alice, "07-checkout-seat-taken")
    alice.get_by_role("button", name="Pay ₩300,000").click()
    expect(alice.get_by_role("alert").filter(has_text="does not have enough money")).to_be_visible()
    shot(alice, "08-insufficient-balance")
    expect(alice.get_by_label("Top up (won)")).to_have_value("300000")
    alice.get_by_role("button", name="Top up", exact=True).click()
    expect(alice.get_by_role("status").filter(has_text="Your balance is now ₩300,000")).to_be_visible()
    shot(alice, "09-topped-up")
    alice.get_by_role("button", name="Pay ₩300,000").click()

    expect(alice.get_by_role("heading", name="You are going!")).to_be_visible()
    expect(alice.locator(".order tbody tr")).to_have_text([re.compile("Seat 3"), re.compile("Seat 13")])
    expect(alice.get_by_test_id("amount")).to_have_text("₩300,000")
    shot(alice, "10-confirmation")

    # Alice's payment freed the slot: Bora's waiting room moves on by itself.
    expect(bora).to_have_url(re.compile(r"/dates$"), timeout=15_000)
    expect(bora.get_by_role("heading", name="날짜 선택")).to_be_visible()
    shot(bora, "11-admitted-ko-phone")
    bora.locator("a.date-link").first.click()
    expect(bora.locator(".seat.sold")).to_have_count(2)  # Alice's 3 and 13
    expect(bora.locator(".seat.held")).to_have_count(1)  # 4, held by the one who took it
    bora.locator('[data-seat="20"]').click()
    shot(bora, "12-seat-map-ko-phone")

    # Bora's turn ends before she holds (as when its time runs out).
    queue_entry_end(entry_id=QueueEntry.objects.get(user__username="bora", status=QueueEntry.Status.ACTIVE).pk)
    bora.get_by_role("button", name="이 좌석 점유하기").click()
    expect(bora.get_by_role("alert").filter(has_text="예매 차례가 끝났습니다")).to_be_visible()
    shot(bora, "13-turn-ended-ko-phone")


def test_a_hold_lapses_while_the_checkout_is_open(new_page, settings, concert_date):
    settings.HOLD_SECONDS = 6
    page = new_page(viewport=PHONE)
    sign_up_and_get_in_line(page, "chris")
    page.locator("a.date-link").first.click()
    page.locator('[data-seat="7"]').click()
    page.get_by_role("button", name="Hold these seats").click()

    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^0:0[1-6]$"))
    shot(page, "14-hold-countdown-phone")
    expect(page.get_by_role("heading", name="Your hold has lapsed")).to_be_visible()
    expect(page.locator("[data-pay-form] button")).to_be_hidden()
    expect(page.locator("[data-pay-form] button")).to_be_disabled()
    shot(page, "15-hold-lapsed-phone")

    page.get_by_role("link", name="Pick seats again").click()
    expect(page.get_by_role("alert").filter(has_text="Your hold on seat 7 lapsed")).to_be_visible()
    expect(page.locator('[data-seat="7"]')).to_have_class(re.compile(r"\bfree\b"))
    shot(page, "16-seat-free-again-phone")


def test_a_paused_sale_then_my_tickets_a_cancel_and_the_wallet_history(
    new_page, browser, live_server, settings, concert_date
):
    settings.QUEUE_ACTIVE_LIMIT = 1
    settings.QUEUE_ABANDON_SECONDS = 8  # so a paused waiting room polls every 2 s
    date_with_seats(
        concert=ConcertFactory(title="Last Year's Tour", venue="KSPO Dome"),
        date=timezone.localdate() - dt.timedelta(days=30),
    )
    blocker, _place, _created = queue_token_issue(user=UserFactory())  # takes the one slot
    queue_state_update(active_limit=None, paused=True)

    # Dana sees which concert is on sale, and gets in line while staff hold admission.
    page = new_page()
    page.goto("/")
    page.get_by_label("Choose a username").fill("dana")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Get in line")).to_have_count(1)
    expect(page.locator(".concert").filter(has_text="Last Year's Tour")).to_contain_text("No seats on sale")
    shot(page, "17-home-on-sale-or-not")
    page.get_by_role("button", name="Get in line").click()
    expect(page).to_have_url(re.compile(r"/waiting-room$"))
    expect(page.get_by_text("Sales are paused for now.")).to_be_visible()
    expect(page.get_by_text("Estimated wait")).to_be_hidden()
    shot(page, "18-waiting-room-paused")

    # The slot frees, but nobody is admitted while paused; once resumed the page moves on by itself.
    queue_entry_end(entry_id=blocker.pk)
    page.wait_for_timeout(2_500)  # at least one more poll
    expect(page).to_have_url(re.compile(r"/waiting-room$"))
    expect(page.get_by_text("Sales are paused for now.")).to_be_visible()
    queue_state_update(active_limit=None, paused=False)
    expect(page).to_have_url(re.compile(r"/dates$"), timeout=15_000)

    # Hold, top up, pay.
    page.get_by_role("link", name=re.compile("50 seats free")).click()
    page.locator('[data-seat="8"]').click()
    page.get_by_role("button", name="Hold these seats").click()
    page.get_by_role("button", name="Top up", exact=True).click()
    page.get_by_role("button", name="Pay ₩150,000").click()
    expect(page.get_by_role("heading", name="You are going!")).to_be_visible()

    # My tickets: the seat, with a cancel that asks first and says what will happen.
    page.get_by_role("link", name="See all your tickets").click()
    ticket = page.locator(".ticket")
    expect(ticket).to_have_count(1)
    expect(ticket).to_contain_text("IU Golden Hour")
    expect(ticket).to_contain_text("Seat 8 · ₩150,000")
    expect(ticket.locator(".status")).to_have_text("Paid")
    shot(page, "19-my-tickets")
    ticket.get_by_role("link", name="Cancel…").click()
    expect(page.get_by_role("heading", name="Cancel this ticket?")).to_be_visible()
    expect(page.get_by_text("₩150,000 goes back to your wallet at once.")).to_be_visible()
    shot(page, "20-cancel-confirm")
    page.get_by_role("button", name="Yes, cancel and refund ₩150,000").click()
    expect(page).to_have_url(re.compile(r"/tickets$"))
    expect(page.get_by_role("status").filter(has_text="₩150,000 went back to your wallet")).to_be_visible()
    expect(ticket.locator(".status")).to_have_text("Cancelled: refunded")
    expect(ticket.get_by_role("link", name="Cancel…")).to_have_count(0)
    shot(page, "21-ticket-cancelled")

    # The wallet history, newest first.
    page.get_by_role("navigation", name="Your account").get_by_role("link", name="Wallet").click()
    expect(page.get_by_test_id("balance")).to_have_text("₩150,000")
    expect(page.locator(".ledger tbody tr")).to_have_text(
        [re.compile(r"Refund\s*\+₩150,000\s*₩150,000"), re.compile(r"Payment\s*−₩150,000\s*₩0"), re.compile(r"Top-up")]
    )
    shot(page, "22-wallet-history")

    # The same two pages in Korean, on a phone.
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="한국어").click()
    expect(page.get_by_role("heading", name="지갑")).to_be_visible()
    shot(page, "23-wallet-history-ko-phone")
    page.get_by_role("link", name="내 티켓").click()
    expect(page.locator(".ticket .status")).to_have_text("예매 취소: 환불됨")
    shot(page, "24-my-tickets-ko-phone")

    # Signing out ends the session: a copy of its cookie opens nothing afterwards.
    copied = [cookie for cookie in page.context.cookies() if cookie["name"] == settings.SESSION_COOKIE_NAME]
    page.get_by_role("button", name="로그아웃").click()
    replay = browser.new_context(base_url=live_server.url, viewport=DESKTOP, locale="en-US")
    try:
        replay.add_cookies(copied)
        stolen = replay.new_page()
        stolen.goto("/tickets")
        expect(stolen).to_have_url(re.compile(r"/$"))
        expect(stolen.get_by_role("heading", name="Book concert seats")).to_be_visible()
    finally:
        replay.close()
