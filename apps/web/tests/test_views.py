import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from apps.accounts.errors import UsernameTaken
from apps.accounts.models import User
from apps.accounts.selectors import user_for_api_key
from apps.accounts.services import api_key_issue
from apps.accounts.tests.factories import UserFactory
from apps.common.errors import ApplicationError, InvalidDate
from apps.concerts.errors import DateNotFound
from apps.concerts.tests.factories import ConcertFactory, date_with_seats
from apps.queue.errors import QueueTokenExpired, QueueTokenMissing
from apps.queue.services import queue_state_update, queue_token_issue
from apps.queue.tests.factories import QueueEntryFactory, end_and_commit
from apps.queue.tokens import entry_for_token
from apps.reservations.errors import HoldLimitReached, ReservationNotCancellable, ReservationNotFound, SeatUnavailable
from apps.reservations.selectors import reservation_list
from apps.reservations.services import reservation_hold
from apps.reservations.tests.factories import ReservationFactory
from apps.wallet.errors import InsufficientBalance, InvalidAmount
from apps.wallet.selectors import wallet_balance
from apps.wallet.services import wallet_charge
from apps.web import visitor
from apps.web.errors import CASE_DETAILS, MESSAGES, error_text
from apps.web.views import queue_progress

pytestmark = pytest.mark.django_db

# The codes of the API contract (API.md) that a booking can run into.
CONTRACT_CODES = [
    "VALIDATION_ERROR",
    "FORBIDDEN",
    "USERNAME_TAKEN",
    "QUEUE_TOKEN_MISSING",
    "QUEUE_TOKEN_INVALID",
    "QUEUE_TOKEN_EXPIRED",
    "QUEUE_TOKEN_NOT_ACTIVE",
    "CONCERT_NOT_FOUND",
    "DATE_NOT_FOUND",
    "INVALID_DATE",
    "SEAT_NOT_FOUND",
    "SEAT_UNAVAILABLE",
    "HOLD_LIMIT_REACHED",
    "DATE_CLOSED",
    "RESERVATION_NOT_FOUND",
    "RESERVATION_EXPIRED",
    "RESERVATION_ALREADY_PAID",
    "RESERVATION_NOT_CANCELLABLE",
    "INSUFFICIENT_BALANCE",
    "INVALID_AMOUNT",
    "IDEMPOTENCY_KEY_REUSED",
    "SERVICE_UNAVAILABLE",
]


def text(error_class: type[ApplicationError]) -> str:
    """What the pages say for this error."""
    return error_text(error_class())


@pytest.fixture
def concert_date():
    return date_with_seats(price=150_000)


def signed_up(client: Client, username: str = "alice") -> Client:
    client.post(reverse("web:signup"), {"username": username}, follow=True)  # reads the welcome
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def join_queue(client: Client, concert_date):
    return client.post(reverse("web:queue_join", args=[concert_date.concert_id]))


def seats_url(concert_date, name: str = "web:seats") -> str:
    return reverse(name, args=[concert_date.concert_id, concert_date.date.isoformat()])


@pytest.fixture
def booking_client(client, concert_date) -> Client:
    """Signed up and admitted (the line is empty)."""
    signed_up(client)
    join_queue(client, concert_date)
    return client


def session_user(client: Client):
    return User.objects.get(pk=client.session[visitor.USER_ID])


# --- signing up and in ---


def test_a_visitor_sees_sign_up_and_sign_in(client):
    response = client.get(reverse("web:home"))

    assert response.status_code == 200
    assert b"New here? Sign up" in response.content
    assert b"Have an API key? Sign in" in response.content


def test_sign_up_signs_in_and_shows_the_key_once(client, concert_date):
    response = client.post(reverse("web:signup"), {"username": "alice"}, follow=True)

    key = re.search(r"cbk_[\w-]+", response.content.decode()).group(0)
    assert user_for_api_key(key=key) == session_user(client)
    assert visitor.NEW_API_KEY not in client.session
    assert "Welcome, alice! Your account is ready." in messages_of(response)
    assert concert_date.concert.title in response.content.decode()
    assert key not in client.get(reverse("web:home")).content.decode()


def test_sign_up_with_a_taken_name_says_so(client):
    UserFactory(username="alice")

    response = client.post(reverse("web:signup"), {"username": "Alice"}, follow=True)

    assert messages_of(response) == [text(UsernameTaken)]
    assert visitor.USER_ID not in client.session


@pytest.mark.parametrize("username", ["", "two words", "x" * 151])
def test_sign_up_rejects_a_bad_username(client, username):
    response = client.post(reverse("web:signup"), {"username": username}, follow=True)

    assert "A username is 1 to 150" in messages_of(response)[0]


def test_sign_up_judges_the_name_as_the_api_does(client):
    response = client.post(reverse("web:signup"), {"username": "ｍｉｎｊｉ"}, follow=True)  # fullwidth letters

    assert messages_of(response) == ["Welcome, minji! Your account is ready."]
    assert session_user(client).username == "minji"


def test_sign_in_with_an_api_key(client):
    user = UserFactory(username="bob")
    key = api_key_issue(user=user)

    response = client.post(reverse("web:signin"), {"api_key": f"  {key} "}, follow=True)

    assert messages_of(response) == ["Welcome back, bob."]
    assert session_user(client) == user


def test_sign_in_with_an_unknown_key_says_so(client):
    response = client.post(reverse("web:signin"), {"api_key": "cbk_nope"}, follow=True)

    assert "We do not recognise that API key" in messages_of(response)[0]
    assert visitor.USER_ID not in client.session


def test_sign_out_forgets_everything(booking_client):
    booking_client.post(reverse("web:signout"))

    assert visitor.USER_ID not in booking_client.session
    assert visitor.QUEUE_TOKEN not in booking_client.session


def test_a_copied_session_cookie_does_not_work_after_sign_out(booking_client, concert_date, settings):
    copied = booking_client.cookies[settings.SESSION_COOKIE_NAME].value
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = copied
    assert b"Hello, alice" in replay.get(reverse("web:home")).content

    booking_client.post(reverse("web:signout"))

    home = replay.get(reverse("web:home"))
    assert b"Hello, alice" not in home.content
    assert b"New here? Sign up" in home.content
    dates = replay.get(reverse("web:dates", args=[concert_date.concert_id]))
    assert dates["Location"] == reverse("web:home")


def test_forms_are_csrf_protected(concert_date):
    client = Client(enforce_csrf_checks=True)

    assert client.post(reverse("web:signup"), {"username": "mallory"}).status_code == 403
    page = client.get(reverse("web:home"))
    token = page.context["csrf_token"]
    assert client.post(reverse("web:signup"), {"username": "carol", "csrfmiddlewaretoken": token}).status_code == 302


def test_booking_pages_send_a_signed_out_visitor_to_the_start(client, concert_date):
    for url in [reverse("web:dates", args=[concert_date.concert_id]), seats_url(concert_date), reverse("web:checkout")]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("web:home")


# --- the queue ---


def test_joining_an_empty_line_goes_straight_to_the_dates(client, concert_date):
    signed_up(client)

    response = join_queue(client, concert_date)

    assert response["Location"] == reverse("web:dates", args=[concert_date.concert_id])
    assert client.session[visitor.QUEUE_TOKEN]


def test_joining_a_full_line_waits_and_moves_on_when_a_slot_frees(client, concert_date, settings):
    settings.QUEUE_ACTIVE_LIMIT = 1
    ahead = QueueEntryFactory(active=True)
    signed_up(client)

    response = join_queue(client, concert_date)
    assert response["Location"] == reverse("web:waiting_room", args=[concert_date.concert_id])
    page = client.get(response["Location"])
    assert page.context["position"] == 1
    assert b"Your place in line" in page.content
    status = client.get(reverse("web:queue_status")).json()
    assert status["status"] == "WAITING"
    assert status["position"] == 1
    assert 1000 <= status["poll_after_ms"] <= settings.QUEUE_ABANDON_SECONDS * 1000 // 4
    assert status["estimated_wait_seconds"] > 0
    assert status["paused"] is False
    assert status["progress"] == 50

    end_and_commit(entry_id=ahead.pk)

    status = client.get(reverse("web:queue_status")).json()
    assert status["status"] == "ACTIVE"
    assert status["progress"] == 100
    waiting_room = client.get(reverse("web:waiting_room", args=[concert_date.concert_id]))
    assert waiting_room["Location"] == reverse("web:dates", args=[concert_date.concert_id])


def test_a_waiting_visitor_is_kept_out_of_the_booking_pages(client, concert_date, settings):
    settings.QUEUE_ACTIVE_LIMIT = 1
    QueueEntryFactory(active=True)
    signed_up(client)
    join_queue(client, concert_date)

    response = client.get(reverse("web:dates", args=[concert_date.concert_id]))

    assert response["Location"] == reverse("web:waiting_room", args=[concert_date.concert_id])


def test_queue_status_of_an_ended_token_says_what_to_do(booking_client):
    entry = entry_for_token(booking_client.session[visitor.QUEUE_TOKEN])
    end_and_commit(entry_id=entry.pk)

    body = booking_client.get(reverse("web:queue_status")).json()

    assert body["status"] == "ENDED"
    assert body["message"] == text(QueueTokenExpired)
    assert visitor.QUEUE_TOKEN not in booking_client.session


def test_queue_status_needs_a_signed_in_visitor(client):
    response = client.get(reverse("web:queue_status"))

    assert response.status_code == 401
    assert response.json()["status"] == "SIGNED_OUT"


def waiting_visitor(concert_date, username: str) -> Client:
    client = signed_up(Client(), username)
    join_queue(client, concert_date)
    return client


def poll_after_ms(client: Client) -> int:
    return client.get(reverse("web:queue_status")).json()["poll_after_ms"]


def test_polling_backs_off_far_from_the_head(concert_date, settings):
    settings.QUEUE_ACTIVE_LIMIT = 1
    # Before any admission history each slot is assumed to take its whole TTL: with the default
    # 600 s even the head would be told the longest interval.
    settings.QUEUE_ACTIVE_TTL_SECONDS = 60
    QueueEntryFactory(active=True)
    head = waiting_visitor(concert_date, "head")
    for _ in range(58):
        queue_token_issue(user=UserFactory())
    last = waiting_visitor(concert_date, "last")

    assert last.get(reverse("web:queue_status")).json()["position"] == 60
    assert 1000 <= poll_after_ms(head) < poll_after_ms(last)


def test_polling_stays_inside_the_abandon_window(concert_date, settings):
    settings.QUEUE_ACTIVE_LIMIT = 1
    settings.QUEUE_ABANDON_SECONDS = 20
    QueueEntryFactory(active=True)
    QueueEntryFactory.create_batch(60)  # far back: the distance alone would allow 7 s

    assert poll_after_ms(waiting_visitor(concert_date, "patient")) == 5000


def test_the_waiting_room_says_when_sales_are_paused_and_moves_on_when_resumed(client, concert_date, settings):
    settings.QUEUE_ACTIVE_LIMIT = 1
    ahead = QueueEntryFactory(active=True)
    signed_up(client)
    join_queue(client, concert_date)

    queue_state_update(active_limit=None, paused=True)
    end_and_commit(entry_id=ahead.pk)  # a slot is free, but nobody is admitted while paused

    status = client.get(reverse("web:queue_status")).json()
    assert (status["status"], status["paused"], status["estimated_wait_seconds"]) == ("WAITING", True, None)
    assert status["wait_text"] == "none while sales are paused"
    page = client.get(reverse("web:waiting_room", args=[concert_date.concert_id]))
    html = page.content.decode()
    assert "Sales are paused for now." in html
    assert "<p data-when-running hidden>" in html  # no estimate
    assert "data-when-paused>" in html  # the notice, not hidden

    queue_state_update(active_limit=None, paused=False)

    status = client.get(reverse("web:queue_status")).json()
    assert (status["status"], status["paused"]) == ("ACTIVE", False)
    page = client.get(reverse("web:waiting_room", args=[concert_date.concert_id]))
    assert page["Location"] == reverse("web:dates", args=[concert_date.concert_id])


def test_the_waiting_room_shows_the_estimate_while_sales_run(client, concert_date, settings):
    settings.QUEUE_ACTIVE_LIMIT = 1
    QueueEntryFactory(active=True)
    signed_up(client)
    join_queue(client, concert_date)

    html = client.get(reverse("web:waiting_room", args=[concert_date.concert_id])).content.decode()

    assert "<p data-when-running>" in html
    assert "data-when-paused hidden>" in html


def test_progress_runs_from_joining_to_admission():
    assert queue_progress(position=100, start_position=100) == 1
    assert queue_progress(position=50, start_position=100) == 50
    assert queue_progress(position=1, start_position=100) == 99
    assert queue_progress(position=0, start_position=100) == 100


# --- dates and seats ---


def test_dates_list_the_bookable_dates(booking_client, concert_date):
    response = booking_client.get(reverse("web:dates", args=[concert_date.concert_id]))

    assert [item.date for item in response.context["dates"]] == [concert_date.date]
    assert b"50 seats free" in response.content


def test_seat_map_is_ten_by_five_with_free_mine_held_and_sold_seats(booking_client, concert_date):
    reservation_hold(user=UserFactory(), concert_id=concert_date.concert_id, date=concert_date.date, seat_number=7)
    ReservationFactory(seat=concert_date.seats.get(number=9), confirmed=True)
    booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["12"]})

    response = booking_client.get(seats_url(concert_date))

    rows = response.context["rows"]
    assert [len(row) for row in rows] == [10] * 5
    states = {seat["number"]: seat["state"] for row in rows for seat in row}
    assert states[7] == "held"
    assert states[9] == "sold"
    assert states[12] == "mine"
    assert list(states.values()).count("free") == 47
    html = response.content.decode()
    assert 'title="Seat 1 · ₩150,000"' in html
    assert response.context["pick_limit"] == 3


def test_seat_map_of_an_unknown_date_goes_back_to_the_dates(booking_client, concert_date):
    for date in ["2030-02-30", "1999-01-01"]:
        response = booking_client.get(reverse("web:seats", args=[concert_date.concert_id, date]), follow=True)
        assert response.redirect_chain[0][0] == reverse("web:dates", args=[concert_date.concert_id])
        assert messages_of(response)[0] in {text(InvalidDate), text(DateNotFound)}


# --- holding ---


def test_holding_seats_goes_to_checkout_with_total_and_countdown(booking_client, concert_date):
    response = booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["3", "4"]}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("web:checkout")
    assert [hold.seat.number for hold in response.context["holds"]] == [3, 4]
    assert response.context["total"] == 300_000
    assert 295_000 <= response.context["hold_ms_left"] <= 300_000
    assert "₩300,000" in response.content.decode()


def test_a_seat_taken_meanwhile_is_named_and_the_others_are_held(booking_client, concert_date):
    reservation_hold(user=UserFactory(), concert_id=concert_date.concert_id, date=concert_date.date, seat_number=5)

    response = booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["5", "6"]}, follow=True)

    assert messages_of(response) == [f"Seat 5: {text(SeatUnavailable)}"]
    assert [hold.seat.number for hold in response.context["holds"]] == [6]


def test_when_every_picked_seat_is_taken_the_seat_map_says_so(booking_client, concert_date):
    reservation_hold(user=UserFactory(), concert_id=concert_date.concert_id, date=concert_date.date, seat_number=5)

    response = booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["5"]}, follow=True)

    assert response.redirect_chain[-1][0] == seats_url(concert_date)
    assert messages_of(response) == [f"Seat 5: {text(SeatUnavailable)}"]


def test_no_more_picks_than_the_hold_limit(booking_client, concert_date, settings):
    settings.MAX_HOLDS_PER_USER = 2

    response = booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["1", "2", "3"]}, follow=True)

    assert messages_of(response) == ["You may hold 2 seats at once and already hold 0."]
    assert reservation_list(user=session_user(booking_client)).count() == 0


def test_holds_made_elsewhere_count_against_the_limit(booking_client, concert_date, settings):
    settings.MAX_HOLDS_PER_USER = 1
    reservation_hold(
        user=session_user(booking_client), concert_id=concert_date.concert_id, date=concert_date.date, seat_number=1
    )

    response = booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["2"]}, follow=True)

    assert messages_of(response) == [text(HoldLimitReached)]


def test_holding_nothing_asks_for_a_seat(booking_client, concert_date):
    response = booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["x", "-1"]}, follow=True)

    assert messages_of(response) == ["Pick at least one seat."]


# --- paying ---


def test_paying_without_enough_money_then_topping_up_and_paying(booking_client, concert_date):
    booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["3", "4"]})
    ids = [hold.pk for hold in booking_client.get(reverse("web:checkout")).context["holds"]]

    response = booking_client.post(reverse("web:pay"), {"reservation": ids}, follow=True)
    assert messages_of(response) == [text(InsufficientBalance)]
    assert response.context["shortfall"] == 300_000

    response = booking_client.post(
        reverse("web:top_up"), {"amount": "300,000", "next": reverse("web:checkout")}, follow=True
    )
    assert messages_of(response) == ["Added ₩300,000 to your wallet. Your balance is now ₩300,000."]
    assert response.context["shortfall"] == 0

    response = booking_client.post(reverse("web:pay"), {"reservation": ids}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("web:confirmation")
    assert [r.seat.number for r in response.context["reservations"]] == [3, 4]
    assert response.context["payment"]["amount"] == 300_000
    html = response.content.decode()
    assert "You are going!" in html
    assert "₩300,000" in html
    assert wallet_balance(user=session_user(booking_client)) == 0


def test_after_paying_the_token_has_ended(booking_client, concert_date):
    wallet_charge(user=session_user(booking_client), amount=150_000)
    booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["3"]})
    ids = [hold.pk for hold in booking_client.get(reverse("web:checkout")).context["holds"]]
    booking_client.post(reverse("web:pay"), {"reservation": ids})

    response = booking_client.get(reverse("web:dates", args=[concert_date.concert_id]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("web:home")
    assert messages_of(response) == [text(QueueTokenMissing)]


def test_a_token_that_ended_elsewhere_is_reported(booking_client, concert_date):
    entry = entry_for_token(booking_client.session[visitor.QUEUE_TOKEN])
    end_and_commit(entry_id=entry.pk)

    response = booking_client.get(reverse("web:checkout"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("web:home")
    assert messages_of(response) == [text(QueueTokenExpired)]


def test_a_lapsed_hold_is_reported_and_cannot_be_paid(booking_client, concert_date, settings):
    settings.HOLD_SECONDS = 0
    wallet_charge(user=session_user(booking_client), amount=150_000)

    response = booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["8"]}, follow=True)

    assert messages_of(response) == ["Your hold on seat 8 lapsed before payment, so the seat was released."]
    assert response.context["holds"] == []
    reservation = reservation_list(user=session_user(booking_client)).get()
    response = booking_client.post(reverse("web:pay"), {"reservation": [reservation.pk]}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("web:checkout")
    assert wallet_balance(user=session_user(booking_client)) == 150_000
    seat_page = booking_client.get(seats_url(concert_date))
    assert {s["number"]: s["state"] for row in seat_page.context["rows"] for s in row}[8] == "free"


def test_paying_for_someone_elses_hold_is_refused(booking_client, concert_date):
    theirs = reservation_hold(
        user=UserFactory(), concert_id=concert_date.concert_id, date=concert_date.date, seat_number=9
    )

    response = booking_client.post(reverse("web:pay"), {"reservation": [theirs.pk]}, follow=True)

    assert messages_of(response) == [text(ReservationNotFound)]


@pytest.mark.parametrize("amount", ["", "abc", "-5", "0", "1000000001", "1.5"])
def test_a_bad_top_up_amount_is_explained(booking_client, amount):
    response = booking_client.post(reverse("web:top_up"), {"amount": amount}, follow=True)

    assert messages_of(response) == [text(InvalidAmount)]
    assert wallet_balance(user=session_user(booking_client)) == 0


def test_top_up_does_not_redirect_off_site(booking_client):
    response = booking_client.post(reverse("web:top_up"), {"amount": "10", "next": "https://evil.example/"})

    assert response["Location"] == reverse("web:home")


# --- language ---


def test_every_contract_error_has_its_own_text_in_english_and_korean():
    by_code = {error_class.code: error_class for error_class in MESSAGES}
    for code in CONTRACT_CODES:
        assert code in by_code, code
        with translation.override("en"):
            english = text(by_code[code])
        with translation.override("ko"):
            korean = text(by_code[code])
        assert korean != english, code


def domain_errors(base=ApplicationError) -> list[type[ApplicationError]]:
    """Every error class with a code of its own, however deep."""
    found = []
    for error_class in base.__subclasses__():
        if "code" in vars(error_class):
            found.append(error_class)
        found += domain_errors(error_class)
    return found


def test_every_domain_error_has_a_text_of_its_own():
    missing = [error_class.__name__ for error_class in domain_errors() if error_class not in MESSAGES]

    assert missing == []


def test_a_case_the_service_words_is_shown_as_it_words_it_in_english_and_korean():
    for case in CASE_DETAILS:
        error_class = next(c for c in domain_errors() if case in vars(c).values())
        with translation.override("en"):
            english = error_text(error_class(case))
        with translation.override("ko"):
            korean = error_text(error_class(case))
        assert english == str(case) != text(error_class)
        assert korean != english


def test_holding_a_seat_you_already_bought_says_so(booking_client, concert_date):
    bought(booking_client, concert_date, ["3"])
    join_queue(booking_client, concert_date)

    response = booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["3"]}, follow=True)

    assert messages_of(response) == [f"Seat 3: {SeatUnavailable.bought_by_you}"]


def test_an_unknown_code_still_gets_a_sentence():
    class Strange(Exception):
        code = "SOMETHING_NEW"

    assert error_text(Strange()) == "Something went wrong (SOMETHING_NEW). Please try again."


def test_pages_and_messages_in_korean(client, concert_date, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ko"
    signed_up(client)
    join_queue(client, concert_date)
    reservation_hold(user=UserFactory(), concert_id=concert_date.concert_id, date=concert_date.date, seat_number=5)

    response = client.post(seats_url(concert_date, "web:hold"), {"seat": ["5"]}, follow=True)

    html = response.content.decode()
    assert '<html lang="ko">' in html
    assert "좌석" in html
    assert messages_of(response) == ["5번 좌석: 방금 다른 분이 이 좌석을 선택했습니다. 다른 좌석을 골라 주세요."]
    assert "150,000원" in html


def test_the_language_switch_sets_the_language(client):
    response = client.post(reverse("web:set_language"), {"language": "ko", "next": "/"}, follow=True)

    assert "콘서트 좌석 예매" in response.content.decode()


def test_dates_in_the_past_are_not_offered(booking_client, concert_date):
    date_with_seats(concert=concert_date.concert, date=timezone.localdate() - dt.timedelta(days=1))

    response = booking_client.get(reverse("web:dates", args=[concert_date.concert_id]))

    assert [item.date for item in response.context["dates"]] == [concert_date.date]


# --- the wallet ---


def bought(client: Client, concert_date, seats: list[str]) -> list[int]:
    """Holds and pays for these seats (topping up the exact price); the reservation ids."""
    client.post(seats_url(concert_date, "web:hold"), {"seat": seats})
    holds = client.get(reverse("web:checkout")).context["holds"]
    wallet_charge(user=session_user(client), amount=sum(hold.price for hold in holds))
    ids = [hold.pk for hold in holds]
    client.post(reverse("web:pay"), {"reservation": ids})
    return ids


def test_the_wallet_history_lists_every_change_newest_first(booking_client, concert_date):
    wallet_charge(user=session_user(booking_client), amount=50_000)
    bought(booking_client, concert_date, ["3"])

    response = booking_client.get(reverse("web:wallet"))

    assert response.context["balance"] == 50_000
    rows = [(e.kind, e.amount, e.balance_after) for e in response.context["entries"]]
    assert rows == [("PAYMENT", -150_000, 50_000), ("CHARGE", 150_000, 200_000), ("CHARGE", 50_000, 50_000)]
    html = response.content.decode()
    assert "−₩150,000" in html
    assert "+₩50,000" in html
    assert "Top-up" in html
    assert "Payment" in html


def test_the_wallet_history_comes_a_page_at_a_time(client):
    signed_up(client)
    for amount in range(1, 26):
        wallet_charge(user=session_user(client), amount=amount)

    first = client.get(reverse("web:wallet"))
    second = client.get(reverse("web:wallet"), {"page": "2"})

    assert [e.amount for e in first.context["entries"]] == list(range(25, 5, -1))
    assert [e.amount for e in second.context["entries"]] == [5, 4, 3, 2, 1]
    assert "Page 2 of 2" in second.content.decode()
    assert [e.amount for e in client.get(reverse("web:wallet"), {"page": "x"}).context["entries"]][0] == 25


def test_an_empty_wallet_says_what_will_show(client):
    signed_up(client)

    response = client.get(reverse("web:wallet"))

    assert "Nothing yet." in response.content.decode()


def test_topping_up_on_the_wallet_page_comes_back_to_it(client):
    signed_up(client)

    response = client.post(reverse("web:top_up"), {"amount": "10000", "next": reverse("web:wallet")}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("web:wallet")
    assert [(e.kind, e.amount) for e in response.context["entries"]] == [("CHARGE", 10_000)]


def test_the_wallet_page_needs_a_signed_in_visitor(client):
    assert client.get(reverse("web:wallet"))["Location"] == reverse("web:home")


def test_the_wallet_history_in_korean(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ko"
    signed_up(client)
    wallet_charge(user=session_user(client), amount=150_000)

    html = client.get(reverse("web:wallet")).content.decode()

    assert "충전" in html
    assert "+150,000원" in html
    assert "내역" in html


# --- the home page: which concerts are on sale ---


def test_get_in_line_only_for_a_concert_on_sale(client, concert_date):
    sold_out = date_with_seats(seats=2)
    for seat in sold_out.seats.all():
        ReservationFactory(seat=seat, confirmed=True)
    held_out = date_with_seats(seats=1)
    reservation_hold(user=UserFactory(), concert_id=held_out.concert_id, date=held_out.date, seat_number=1)
    over = date_with_seats(date=timezone.localdate() - dt.timedelta(days=1))
    no_dates = ConcertFactory()
    signed_up(client)

    response = client.get(reverse("web:home"))

    assert response.context["on_sale_ids"] == {concert_date.concert_id}
    html = response.content.decode()
    assert html.count("Get in line") == 1
    assert html.count("No seats on sale") == 4
    assert reverse("web:queue_join", args=[concert_date.concert_id]) in html
    for concert_id in (sold_out.concert_id, held_out.concert_id, over.concert_id, no_dates.pk):
        assert reverse("web:queue_join", args=[concert_id]) not in html


def test_a_concert_with_a_date_called_off_is_on_sale_only_by_its_other_dates(client, concert_date):
    called_off = date_with_seats(cancelled_at=timezone.now())
    later = date_with_seats(concert=called_off.concert, date=called_off.date + dt.timedelta(days=1))
    signed_up(client)

    assert client.get(reverse("web:home")).context["on_sale_ids"] == {concert_date.concert_id, later.concert_id}
    later.seats.all().delete()
    assert client.get(reverse("web:home")).context["on_sale_ids"] == {concert_date.concert_id}


# --- my tickets, and cancelling one ---


def ticket_rows(response, section: str = "upcoming") -> list[tuple[int, str, bool]]:
    return [(t.reservation.seat.number, t.state, t.cancellable) for t in response.context[section]]


def test_my_tickets_lists_holds_and_bought_seats_with_date_seat_price_and_status(booking_client, concert_date):
    bought(booking_client, concert_date, ["3"])
    join_queue(booking_client, concert_date)
    booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["5"]})
    user = session_user(booking_client)
    yesterday = date_with_seats(concert=concert_date.concert, date=timezone.localdate() - dt.timedelta(days=1))
    ReservationFactory(user=user, seat=yesterday.seats.get(number=7), confirmed=True)
    ReservationFactory(user=user, seat=concert_date.seats.get(number=9), expired=True)  # lapsed: not shown

    response = booking_client.get(reverse("web:tickets"))

    assert ticket_rows(response) == [(3, "paid", True), (5, "held", True)]
    assert ticket_rows(response, "past") == [(7, "paid", False)]
    html = response.content.decode()
    assert concert_date.concert.title in html
    assert "Seat 3 · ₩150,000" in html
    assert "Paid" in html
    assert "Held, not paid: until" in html
    assert html.count("Cancel…") == 1
    assert html.count("Release…") == 1


def test_my_tickets_needs_a_signed_in_visitor(client):
    assert client.get(reverse("web:tickets"))["Location"] == reverse("web:home")


def test_cancelling_a_bought_seat_asks_first_then_refunds_it(booking_client, concert_date):
    [reservation_id] = bought(booking_client, concert_date, ["3"])
    url = reverse("web:ticket_cancel", args=[reservation_id])

    confirm = booking_client.get(url)
    assert confirm.context["refund"] == 150_000
    html = confirm.content.decode()
    assert "Cancel this ticket?" in html
    assert "₩150,000 goes back to your wallet at once." in html
    assert "Yes, cancel and refund ₩150,000" in html
    assert wallet_balance(user=session_user(booking_client)) == 0  # asking changed nothing

    response = booking_client.post(url, follow=True)

    assert response.redirect_chain[-1][0] == reverse("web:tickets")
    assert messages_of(response) == [
        f"Cancelled seat 3 of {concert_date.concert.title} on {date_format(concert_date.date, 'DATE_FORMAT')}. "
        "₩150,000 went back to your wallet; your balance is now ₩150,000."
    ]
    assert ticket_rows(response) == [(3, "refunded", False)]
    assert "Cancelled: refunded" in response.content.decode()
    assert wallet_balance(user=session_user(booking_client)) == 150_000
    wallet = booking_client.get(reverse("web:wallet"))
    assert [(e.kind, e.amount) for e in wallet.context["entries"]][0] == ("REFUND", 150_000)
    assert "Refund" in wallet.content.decode()


def test_releasing_a_hold_asks_first_and_moves_no_money(booking_client, concert_date):
    booking_client.post(seats_url(concert_date, "web:hold"), {"seat": ["5"]})
    [hold_id] = booking_client.session[visitor.HELD_IDS]
    url = reverse("web:ticket_cancel", args=[hold_id])

    confirm = booking_client.get(url)
    assert confirm.context["refund"] == 0
    html = confirm.content.decode()
    assert "Release this hold?" in html
    assert "No money moves" in html

    response = booking_client.post(url, follow=True)

    assert messages_of(response) == [
        f"Released your hold on seat 5 of {concert_date.concert.title} on "
        f"{date_format(concert_date.date, 'DATE_FORMAT')}. No money moved."
    ]
    assert ticket_rows(response) == []
    assert booking_client.session[visitor.HELD_IDS] == []
    seat_page = booking_client.get(seats_url(concert_date))
    assert {s["number"]: s["state"] for row in seat_page.context["rows"] for s in row}[5] == "free"


def test_cancelling_twice_says_it_is_already_cancelled(booking_client, concert_date):
    [reservation_id] = bought(booking_client, concert_date, ["3"])
    url = reverse("web:ticket_cancel", args=[reservation_id])
    booking_client.post(url, follow=True)  # reads the first answer

    for response in (booking_client.post(url, follow=True), booking_client.get(url, follow=True)):
        assert messages_of(response) == [text(ReservationNotCancellable)]
    assert wallet_balance(user=session_user(booking_client)) == 150_000


def test_a_ticket_for_today_can_no_longer_be_cancelled(booking_client):
    today = date_with_seats(date=timezone.localdate())
    reservation = ReservationFactory(user=session_user(booking_client), seat=today.seats.get(number=1), confirmed=True)
    url = reverse("web:ticket_cancel", args=[reservation.pk])

    assert ticket_rows(booking_client.get(reverse("web:tickets"))) == [(1, "paid", False)]
    for response in (booking_client.get(url, follow=True), booking_client.post(url, follow=True)):
        assert response.redirect_chain[-1][0] == reverse("web:tickets")
        assert messages_of(response) == [
            "The concert is today or has already taken place, so this ticket can no longer be cancelled."
        ]
    assert wallet_balance(user=session_user(booking_client)) == 0


def test_a_lapsed_hold_cannot_be_released(booking_client, concert_date):
    lapsed = ReservationFactory(user=session_user(booking_client), seat=concert_date.seats.get(number=2), lapsed=True)

    response = booking_client.post(reverse("web:ticket_cancel", args=[lapsed.pk]), follow=True)

    assert messages_of(response) == [str(ReservationNotCancellable.lapsed)]


def test_someone_elses_ticket_cannot_be_cancelled_or_seen(booking_client, concert_date):
    theirs = ReservationFactory(seat=concert_date.seats.get(number=4), confirmed=True)
    url = reverse("web:ticket_cancel", args=[theirs.pk])

    for response in (booking_client.get(url, follow=True), booking_client.post(url, follow=True)):
        assert messages_of(response) == [text(ReservationNotFound)]
    assert concert_date.concert.title not in booking_client.get(reverse("web:tickets")).content.decode()


def test_cancel_is_a_csrf_protected_post(client, concert_date):
    signed_up(client)
    reservation = ReservationFactory(user=session_user(client), seat=concert_date.seats.get(number=4), confirmed=True)
    checked = Client(enforce_csrf_checks=True)
    checked.cookies = client.cookies

    assert checked.post(reverse("web:ticket_cancel", args=[reservation.pk])).status_code == 403
    assert wallet_balance(user=session_user(client)) == 0


def test_my_tickets_and_cancelling_in_korean(booking_client, concert_date, settings):
    [reservation_id] = bought(booking_client, concert_date, ["3"])
    booking_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ko"

    tickets_html = booking_client.get(reverse("web:tickets")).content.decode()
    confirm_html = booking_client.get(reverse("web:ticket_cancel", args=[reservation_id])).content.decode()
    response = booking_client.post(reverse("web:ticket_cancel", args=[reservation_id]), follow=True)

    assert "내 티켓" in tickets_html
    assert "결제 완료" in tickets_html
    assert "150,000원이 바로 지갑으로 돌아갑니다." in confirm_html
    assert "150,000원" in messages_of(response)[0]
    assert "환불" in response.content.decode()
