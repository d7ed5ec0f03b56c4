"""Pages for concert-goers: sign up or in, the waiting room, a concert's dates, the seat map,
checkout and the confirmation; their tickets (and cancelling one) and their wallet.

They call the same services and selectors as the API. Domain errors become messages in the
visitor's language (apps.web.errors); every form is a CSRF-protected POST that redirects.
"""

import dataclasses
import math

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.selectors import user_for_api_key
from apps.accounts.services import user_create
from apps.common.errors import ApplicationError, ValidationFailed
from apps.common.fields import parse_concert_date, positive_int_or_none
from apps.concerts.errors import ConcertNotFound, SeatNotFound
from apps.concerts.selectors import concert_get, concert_list
from apps.payments.services import payment_create, reservation_cancel
from apps.queue.selectors import estimated_wait_seconds, place_is_admitted, poll_after_seconds, queue_token
from apps.queue.services import queue_poll, queue_token_issue
from apps.reservations.errors import DateClosed, ReservationExpired, SeatUnavailable
from apps.reservations.selectors import (
    bookable_dates,
    concert_ids_on_sale,
    hold_allowance,
    holds_report,
    reservation_get,
    reservations_of,
    seat_map,
    tickets_of,
)
from apps.reservations.services import reservation_check_cancellable, reservation_hold
from apps.wallet.errors import InvalidAmount
from apps.wallet.selectors import ledger_entries, wallet_balance
from apps.wallet.services import wallet_charge
from apps.web import visitor
from apps.web.errors import error_text
from apps.web.templatetags.web_format import wait_text, won
from apps.web.visitor import admitted, signed_in

SEATS_PER_ROW = 10
LEDGER_PAGE_SIZE = 20
MAX_API_KEY_LENGTH = 200
USERNAME_MAX_LENGTH = 150  # the User model's, for the form's maxlength (the service judges the name)
# Seat-level problems name the seat and let the other seats go ahead; any other error stops the holds.
SEAT_ERRORS = (SeatUnavailable, SeatNotFound)


# --- the waiting room ---


def queue_progress(*, position: int, start_position: int) -> int:
    """Percent of the way from where the visitor joined to admission (100 once admitted)."""
    if position == 0:
        return 100
    start_position = max(start_position, position)
    return round(100 * (start_position - position + 1) / (start_position + 1))


def _queue_report(request, place) -> dict:
    wait_seconds = estimated_wait_seconds(place)
    return {
        "status": place.status,
        "position": place.position,
        "paused": place.paused,
        "estimated_wait_seconds": wait_seconds,
        "wait_text": wait_text(wait_seconds),
        "progress": queue_progress(
            position=place.position, start_position=request.session.get(visitor.START_POSITION, place.position)
        ),
        "poll_after_ms": poll_after_seconds(place) * 1000,
    }


# --- signing up and in ---


def home(request):
    user = visitor.session_user(request)
    if user is None:
        return render(request, "web/home.html", {"username_max_length": USERNAME_MAX_LENGTH})
    request.web_user = user
    now = timezone.now()
    return render(
        request,
        "web/home.html",
        {
            "concerts": concert_list(),
            "on_sale_ids": concert_ids_on_sale(today=timezone.localdate(now), now=now),
            "balance": wallet_balance(user=user),
            "new_api_key": request.session.pop(visitor.NEW_API_KEY, None),
            "booking_concert_id": (
                request.session.get(visitor.CONCERT_ID) if request.session.get(visitor.QUEUE_TOKEN) else None
            ),
        },
    )


@require_POST
def signup(request):
    try:
        user, api_key = user_create(username=request.POST.get("username", "").strip())
    except ValidationFailed:
        messages.error(request, _("A username is 1 to 150 letters, digits and @ . + - _ characters, without spaces."))
        return redirect("web:home")
    except ApplicationError as error:
        messages.error(request, error_text(error))
        return redirect("web:home")
    visitor.sign_in(request, user=user)
    request.session[visitor.NEW_API_KEY] = api_key
    messages.success(request, _("Welcome, %(username)s! Your account is ready.") % {"username": user.username})
    return redirect("web:home")


@require_POST
def signin(request):
    api_key = request.POST.get("api_key", "").strip()
    user = user_for_api_key(key=api_key) if 0 < len(api_key) <= MAX_API_KEY_LENGTH else None
    if user is None:
        messages.error(request, _("We do not recognise that API key. Check it, or sign up for a new account."))
        return redirect("web:home")
    visitor.sign_in(request, user=user)
    messages.success(request, _("Welcome back, %(username)s.") % {"username": user.username})
    return redirect("web:home")


@require_POST
def signout(request):
    request.session.flush()
    messages.info(request, _("You are signed out."))
    return redirect("web:home")


# --- the queue ---


@require_POST
@signed_in
def queue_join(request, concert_id: int):
    try:
        concert_get(concert_id=concert_id)
    except ApplicationError as error:
        messages.error(request, error_text(error))
        return redirect("web:home")
    entry, place, _created = queue_token_issue(user=request.web_user)
    token = queue_token(entry=entry)
    if token != request.session.get(visitor.QUEUE_TOKEN):
        request.session[visitor.START_POSITION] = place.position
    request.session[visitor.QUEUE_TOKEN] = token
    request.session[visitor.CONCERT_ID] = concert_id
    if place_is_admitted(place):
        return redirect("web:dates", concert_id=concert_id)
    return redirect("web:waiting_room", concert_id=concert_id)


@never_cache
@require_GET
@signed_in
def waiting_room(request, concert_id: int):
    try:
        concert = concert_get(concert_id=concert_id)
    except ConcertNotFound as error:
        messages.error(request, error_text(error))
        return redirect("web:home")
    try:
        place = queue_poll(entry_id=visitor.queue_entry_id(request))
    except ApplicationError as error:
        visitor.forget_queue_token(request)
        messages.error(request, error_text(error))
        return redirect("web:home")
    if place_is_admitted(place):
        return redirect("web:dates", concert_id=concert_id)
    return render(request, "web/waiting_room.html", {"concert": concert, **_queue_report(request, place)})


@never_cache
@require_GET
def queue_status(request):
    """The waiting room's poll: the visitor's place as JSON. A poll also keeps the place alive
    and admits into a free slot, like the API's GET /queue/status."""
    request.web_user = visitor.session_user(request)
    if request.web_user is None:
        return JsonResponse(
            {"status": "SIGNED_OUT", "message": _("Please sign up or sign in first."), "next_url": reverse("web:home")},
            status=401,
        )
    try:
        place = queue_poll(entry_id=visitor.queue_entry_id(request))
    except ApplicationError as error:
        visitor.forget_queue_token(request)
        return JsonResponse({"status": "ENDED", "message": error_text(error), "next_url": reverse("web:home")})
    return JsonResponse(_queue_report(request, place))


# --- booking ---


def _live_holds(request) -> list:
    """The visitor's holds made here that are still live, by date and seat. Holds that lapsed
    since the last page are reported once and forgotten."""
    held_ids = request.session.get(visitor.HELD_IDS, [])
    if not held_ids:
        return []
    report = holds_report(user=request.web_user, reservation_ids=held_ids, now=timezone.now())
    if report.lapsed:
        seats = ", ".join(str(number) for number in sorted(hold.seat.number for hold in report.lapsed))
        messages.warning(
            request,
            ngettext(
                "Your hold on seat %(seats)s lapsed before payment, so the seat was released.",
                "Your holds on seats %(seats)s lapsed before payment, so the seats were released.",
                len(report.lapsed),
            )
            % {"seats": seats},
        )
    request.session[visitor.HELD_IDS] = [hold.pk for hold in report.live]
    return report.live


def _seat_state(seat: dict, *, mine: set[int]) -> str:
    """A seat's look on the map, from seat_map's row: free, held, sold, or held by this visitor."""
    if seat["number"] in mine:
        return "mine"
    if seat["booking_status"] is None:
        return "free"
    return "sold" if seat["held_until"] is None else "held"


def _ms_until(moment) -> int:
    """Milliseconds left, for a countdown that must not reach zero before the server does."""
    return max(0, math.ceil((moment - timezone.now()).total_seconds() * 1000))


@never_cache
@require_GET
@admitted
def dates(request, concert_id: int):
    now = timezone.now()
    try:
        concert = concert_get(concert_id=concert_id)
        available = list(bookable_dates(concert_id=concert_id, today=timezone.localdate(now), now=now))
    except ApplicationError as error:
        messages.error(request, error_text(error))
        return redirect("web:home")
    request.session[visitor.CONCERT_ID] = concert_id
    return render(
        request,
        "web/dates.html",
        {"concert": concert, "dates": available, "turn_ms_left": _ms_until(request.queue_entry.expires_at)},
    )


@never_cache
@require_GET
@admitted
def seats(request, concert_id: int, date: str):
    now = timezone.now()
    try:
        day = parse_concert_date(date)
        concert = concert_get(concert_id=concert_id)
        seat_rows = seat_map(concert_id=concert_id, date=day, now=now)
    except ApplicationError as error:
        messages.error(request, error_text(error))
        return redirect("web:dates", concert_id=concert_id)
    holds = _live_holds(request)
    allowance = hold_allowance(user=request.web_user, now=now)
    mine = {hold.seat.number for hold in holds if hold.seat.concert_date.date == day}
    seat_states = [
        {"number": seat["number"], "price": seat["price"], "state": _seat_state(seat, mine=mine)} for seat in seat_rows
    ]
    return render(
        request,
        "web/seats.html",
        {
            "concert": concert,
            "day": day,
            "rows": [seat_states[i : i + SEATS_PER_ROW] for i in range(0, len(seat_states), SEATS_PER_ROW)],
            "free_count": sum(1 for seat in seat_states if seat["state"] == "free"),
            "holds_count": len(holds),
            "held_count": allowance.held,
            "pick_limit": allowance.left,
            "turn_ms_left": _ms_until(request.queue_entry.expires_at),
        },
    )


def _positive_ints(values: list[str]) -> list[int]:
    """Form values that are whole positive numbers, each once, in order; the rest are dropped."""
    return sorted({number for value in values if (number := positive_int_or_none(value)) is not None})


@require_POST
@admitted
def hold(request, concert_id: int, date: str):
    try:
        day = parse_concert_date(date)
    except ApplicationError as error:
        messages.error(request, error_text(error))
        return redirect("web:dates", concert_id=concert_id)
    numbers = _positive_ints(request.POST.getlist("seat"))
    if not numbers:
        messages.error(request, _("Pick at least one seat."))
        return redirect("web:seats", concert_id=concert_id, date=date)
    live = _live_holds(request)
    # More seats picked than may still be held: none is held. (With none left, the first hold
    # says so in the service's own words.)
    allowance = hold_allowance(user=request.web_user, now=timezone.now())
    if 0 < allowance.left < len(numbers):
        messages.error(
            request,
            ngettext(
                "You may hold %(max)d seat at once and already hold %(held)d.",
                "You may hold %(max)d seats at once and already hold %(held)d.",
                allowance.limit,
            )
            % {"max": allowance.limit, "held": allowance.held},
        )
        return redirect("web:seats", concert_id=concert_id, date=date)
    held = []
    for number in numbers:
        try:
            reservation = reservation_hold(user=request.web_user, concert_id=concert_id, date=day, seat_number=number)
        except SEAT_ERRORS as error:
            messages.error(request, _("Seat %(seat)d: %(problem)s") % {"seat": number, "problem": error_text(error)})
        except ApplicationError as error:
            messages.error(request, error_text(error))
            break
        else:
            held.append(reservation.pk)
    if not held:
        return redirect("web:seats", concert_id=concert_id, date=date)
    request.session[visitor.HELD_IDS] = [hold.pk for hold in live] + held
    return redirect("web:checkout")


@never_cache
@require_GET
@admitted
def checkout(request):
    holds = _live_holds(request)
    total = sum(hold.price for hold in holds)
    balance = wallet_balance(user=request.web_user)
    concert_id = request.session.get(visitor.CONCERT_ID)
    if holds:
        first = holds[0].seat.concert_date
        back_url = reverse("web:seats", args=[first.concert_id, first.date.isoformat()])
    elif concert_id:
        back_url = reverse("web:dates", args=[concert_id])
    else:
        back_url = reverse("web:home")
    return render(
        request,
        "web/checkout.html",
        {
            "holds": holds,
            "total": total,
            "balance": balance,
            "shortfall": max(0, total - balance),
            "hold_ms_left": _ms_until(min(hold.expires_at for hold in holds)) if holds else 0,
            "back_url": back_url,
            "turn_ms_left": _ms_until(request.queue_entry.expires_at),
        },
    )


@require_POST
@admitted
def pay(request):
    reservation_ids = _positive_ints(request.POST.getlist("reservation"))
    if not reservation_ids:
        messages.error(request, _("You have no seats held to pay for."))
        return redirect("web:checkout")
    try:
        payment, balance = payment_create(
            user=request.web_user, reservation_ids=reservation_ids, queue_entry_id=request.queue_entry.pk
        )
    except ReservationExpired:
        return redirect("web:checkout")  # which reports the lapsed holds, naming the seats
    except ApplicationError as error:
        messages.error(request, error_text(error))
        return redirect("web:checkout")
    request.session[visitor.HELD_IDS] = [
        pk for pk in request.session.get(visitor.HELD_IDS, []) if pk not in reservation_ids
    ]
    # Paying ends the queue token.
    visitor.forget_queue_token(request)
    request.session[visitor.PAYMENT] = {
        "id": payment.pk,
        "amount": payment.amount,
        "balance": balance,
        "reservation_ids": reservation_ids,
    }
    return redirect("web:confirmation")


@require_POST
@signed_in
def top_up(request):
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("web:home")
    # A whole number, with or without thousands separators; the wallet decides whether it is allowed.
    amount = positive_int_or_none(request.POST.get("amount", "").replace(",", "").strip())
    try:
        if amount is None:
            raise InvalidAmount()
        balance = wallet_charge(user=request.web_user, amount=amount)
    except ApplicationError as error:
        messages.error(request, error_text(error))
        return redirect(next_url)
    messages.success(
        request,
        _("Added %(amount)s to your wallet. Your balance is now %(balance)s.")
        % {"amount": won(amount), "balance": won(balance)},
    )
    return redirect(next_url)


@require_GET
@signed_in
def confirmation(request):
    payment = request.session.get(visitor.PAYMENT)
    if payment is None:
        return redirect("web:home")
    reservations = reservations_of(user=request.web_user, reservation_ids=payment["reservation_ids"])
    return render(request, "web/confirmation.html", {"payment": payment, "reservations": reservations})


# --- the visitor's own: tickets, and cancelling one ---


@dataclasses.dataclass(frozen=True)
class Ticket:
    reservation: object  # a Reservation, with its seat, date and concert
    state: str  # "held" (not paid yet), "paid" or "refunded"
    cancellable: bool


TICKET_STATES = {"HELD": "held", "CONFIRMED": "paid", "CANCELLED": "refunded"}


def _is_cancellable(reservation, *, now) -> bool:
    """Whether the cancel service would take it now (its own check: no second copy of the rule)."""
    try:
        reservation_check_cancellable(reservation=reservation, now=now)
    except ApplicationError:
        return False
    return True


@never_cache
@require_GET
@signed_in
def tickets(request):
    now = timezone.now()
    found = tickets_of(user=request.web_user, today=timezone.localdate(now), now=now)

    def ticket(reservation) -> Ticket:
        return Ticket(
            reservation=reservation,
            state=TICKET_STATES[reservation.effective_status(now)],
            cancellable=_is_cancellable(reservation, now=now),
        )

    return render(
        request,
        "web/tickets.html",
        {"upcoming": [ticket(r) for r in found.upcoming], "past": [ticket(r) for r in found.past]},
    )


def _cancel_refused(request, error: ApplicationError):
    """Back to the tickets, saying why the cancel cannot be done (too late is worded for this page)."""
    if isinstance(error, DateClosed):
        text = _("The concert is today or has already taken place, so this ticket can no longer be cancelled.")
    else:
        text = error_text(error)
    messages.error(request, text)
    return redirect("web:tickets")


@never_cache
@require_http_methods(["GET", "POST"])
@signed_in
def ticket_cancel(request, reservation_id: int):
    """GET: what cancelling will do (the hold released, or the price refunded), to confirm.
    POST: cancel, then back to the tickets with what happened."""
    if request.method == "POST":
        return _ticket_cancel(request, reservation_id)
    try:
        reservation = reservation_get(user=request.web_user, reservation_id=reservation_id)
        reservation_check_cancellable(reservation=reservation, now=timezone.now())
    except ApplicationError as error:
        return _cancel_refused(request, error)
    paid = reservation.status == "CONFIRMED"
    return render(
        request, "web/ticket_cancel.html", {"reservation": reservation, "refund": reservation.price if paid else 0}
    )


def _ticket_cancel(request, reservation_id: int):
    try:
        reservation, refund = reservation_cancel(user=request.web_user, reservation_id=reservation_id)
    except ApplicationError as error:
        return _cancel_refused(request, error)
    request.session[visitor.HELD_IDS] = [pk for pk in request.session.get(visitor.HELD_IDS, []) if pk != reservation.pk]
    concert_date = reservation.seat.concert_date
    which = {
        "seat": reservation.seat.number,
        "concert": concert_date.concert.title,
        "date": date_format(concert_date.date, "DATE_FORMAT"),
    }
    if refund:
        messages.success(
            request,
            _(
                "Cancelled seat %(seat)d of %(concert)s on %(date)s. %(refund)s went back to your wallet; "
                "your balance is now %(balance)s."
            )
            % {**which, "refund": won(refund), "balance": won(wallet_balance(user=request.web_user))},
        )
    else:
        messages.success(
            request, _("Released your hold on seat %(seat)d of %(concert)s on %(date)s. No money moved.") % which
        )
    return redirect("web:tickets")


# --- the visitor's own: the wallet ---


@never_cache
@require_GET
@signed_in
def wallet(request):
    """The balance, a top-up, and the ledger newest first, a page at a time."""
    entries = Paginator(ledger_entries(user=request.web_user), LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "web/wallet.html", {"balance": wallet_balance(user=request.web_user), "entries": entries})
