import datetime as dt
import importlib

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from apps.accounts.tests.factories import UserFactory
from apps.concerts.errors import ConcertNotFound, DateNotFound, SeatNotFound
from apps.concerts.models import ConcertDate
from apps.concerts.tests.factories import date_with_seats
from apps.reservations import services
from apps.reservations.errors import (
    DateClosed,
    HoldLimitReached,
    ReservationAlreadyPaid,
    ReservationExpired,
    ReservationNotFound,
    SeatUnavailable,
)
from apps.reservations.models import Reservation
from apps.reservations.selectors import SeatForHold, seat_for_hold
from apps.reservations.services import (
    holds_sweep,
    reservation_hold,
    reservation_release,
    reservations_check_payable,
    reservations_confirm,
    reservations_lock_payable,
)
from apps.reservations.tasks import sweep_lapsed_holds
from apps.reservations.tests.factories import ReservationFactory
from apps.reservations.tests.helpers import seat_taken

pytestmark = pytest.mark.django_db

Status = Reservation.Status


def hold(user, concert_date, seat_number, **kwargs) -> Reservation:
    return reservation_hold(
        user=user, concert_id=concert_date.concert_id, date=concert_date.date, seat_number=seat_number, **kwargs
    )


class TestHold:
    def test_holds_the_seat_for_hold_seconds_at_its_price(self, user, settings):
        settings.HOLD_SECONDS = 120
        concert_date = date_with_seats(seats=3, price=99_000)
        now = timezone.now()

        reservation = hold(user, concert_date, 2, now=now)

        reservation.refresh_from_db()
        assert reservation.user == user
        assert reservation.seat == concert_date.seats.get(number=2)
        assert reservation.status == Status.HELD
        assert reservation.price == 99_000
        assert reservation.created_at == now
        assert reservation.expires_at == now + dt.timedelta(seconds=120)
        assert seat_taken(reservation.seat, now)

    @pytest.mark.parametrize("trait", [{}, {"confirmed": True}])
    def test_a_held_or_sold_seat_is_unavailable(self, user, concert_date, trait):
        ReservationFactory(seat=concert_date.seats.get(number=1), **trait)

        with pytest.raises(SeatUnavailable) as raised:
            hold(user, concert_date, 1)
        assert raised.value.detail == SeatUnavailable.default_detail  # someone else's
        assert not Reservation.objects.filter(user=user).exists()

    @pytest.mark.parametrize(
        "trait, detail",
        [({}, SeatUnavailable.held_by_you), ({"confirmed": True}, SeatUnavailable.bought_by_you)],
        ids=["held", "bought"],
    )
    def test_my_own_seat_is_unavailable_to_me_too_and_says_it_is_mine(self, user, concert_date, trait, detail):
        ReservationFactory(user=user, seat=concert_date.seats.get(number=1), **trait)

        with pytest.raises(SeatUnavailable) as raised:
            hold(user, concert_date, 1)
        assert raised.value.detail == detail
        assert Reservation.objects.filter(user=user).count() == 1

    def test_losing_a_race_for_my_own_seat_says_it_is_mine(self, user, concert_date, monkeypatch):
        """The first read found the seat free; by the insert, another request of mine had it."""
        ReservationFactory(user=user, seat=concert_date.seats.get(number=1))
        seat = concert_date.seats.select_related("concert_date").get(number=1)
        reads = iter([SeatForHold(seat=seat, booking_status=None, holder_id=None)])  # then the real one
        monkeypatch.setattr(services, "seat_for_hold", lambda **kwargs: next(reads, None) or seat_for_hold(**kwargs))

        with pytest.raises(SeatUnavailable) as raised:
            hold(user, concert_date, 1)
        assert raised.value.detail == SeatUnavailable.held_by_you

    def test_a_cancelled_reservation_gives_the_seat_back_and_counts_for_nothing(self, user, concert_date, settings):
        settings.MAX_HOLDS_PER_USER = 1
        ReservationFactory(
            user=user, seat=concert_date.seats.get(number=1), status=Status.CANCELLED, cancelled_at=timezone.now()
        )

        assert hold(user, concert_date, 1).status == Status.HELD

    def test_a_lapsed_hold_is_free_at_once_without_any_sweep(self, user, concert_date):
        lapsed = ReservationFactory(seat=concert_date.seats.get(number=1), lapsed=True)

        reservation = hold(user, concert_date, 1)

        assert reservation.status == Status.HELD
        lapsed.refresh_from_db()
        assert lapsed.status == Status.EXPIRED

    def test_the_seat_is_free_the_very_instant_the_hold_expires(self, user, concert_date):
        first = hold(UserFactory(), concert_date, 1)

        with pytest.raises(SeatUnavailable):
            hold(user, concert_date, 1, now=first.expires_at - dt.timedelta(microseconds=1))
        assert hold(user, concert_date, 1, now=first.expires_at).user == user

    def test_hold_limit(self, user, concert_date, settings):
        settings.MAX_HOLDS_PER_USER = 2
        hold(user, concert_date, 1)
        hold(user, concert_date, 2)

        with pytest.raises(HoldLimitReached):
            hold(user, concert_date, 3)
        assert Reservation.objects.filter(user=user).count() == 2
        assert hold(UserFactory(), concert_date, 3)  # the limit is per user

    def test_lapsed_expired_and_sold_seats_do_not_count_toward_the_limit(self, user, concert_date, settings):
        settings.MAX_HOLDS_PER_USER = 1
        seats = list(concert_date.seats.order_by("number"))
        ReservationFactory(user=user, seat=seats[0], lapsed=True)
        ReservationFactory(user=user, seat=seats[1], expired=True)
        ReservationFactory(user=user, seat=seats[2], confirmed=True)

        assert hold(user, concert_date, 4).status == Status.HELD
        with pytest.raises(HoldLimitReached):
            hold(user, concert_date, 5)

    def test_a_past_date_is_closed_today_is_open(self, user):
        yesterday = date_with_seats(seats=1, date=timezone.localdate() - dt.timedelta(days=1))
        today = date_with_seats(seats=1, date=timezone.localdate())

        with pytest.raises(DateClosed) as raised:
            hold(user, yesterday, 1)
        assert raised.value.detail == DateClosed.default_detail
        assert hold(user, today, 1).status == Status.HELD

    def test_a_date_called_off_is_closed(self, user):
        called_off = date_with_seats(seats=1, cancelled_at=timezone.now())

        with pytest.raises(DateClosed) as raised:
            hold(user, called_off, 1)
        assert raised.value.detail == DateClosed.called_off
        assert not Reservation.objects.exists()

    def test_a_date_called_off_after_the_first_read_is_closed_inside_the_transaction(self, user, monkeypatch):
        concert_date = date_with_seats(seats=1)
        read_while_open = services.seat_for_hold(
            concert_id=concert_date.concert_id, date=concert_date.date, seat_number=1, now=timezone.now()
        )
        ConcertDate.objects.filter(pk=concert_date.pk).update(cancelled_at=timezone.now())
        monkeypatch.setattr(services, "seat_for_hold", lambda **kwargs: read_while_open)

        with pytest.raises(DateClosed) as raised:
            hold(user, concert_date, 1)
        assert raised.value.detail == DateClosed.called_off
        assert not Reservation.objects.exists()

    def test_unknown_concert_date_and_seat(self, user, concert_date):
        with pytest.raises(ConcertNotFound):
            reservation_hold(user=user, concert_id=987_654, date=concert_date.date, seat_number=1)
        with pytest.raises(DateNotFound):
            reservation_hold(
                user=user,
                concert_id=concert_date.concert_id,
                date=concert_date.date + dt.timedelta(days=1),
                seat_number=1,
            )
        with pytest.raises(SeatNotFound):
            hold(user, concert_date, 11)


class TestOneLiveReservationPerSeatConstraint:
    """The database refuses a double sale even when the code is bypassed."""

    @pytest.mark.parametrize(
        "first, second", [({}, {}), ({}, {"confirmed": True}), ({"confirmed": True}, {}), ({"lapsed": True}, {})]
    )
    def test_a_second_held_or_confirmed_row_is_refused(self, concert_date, first, second):
        seat = concert_date.seats.first()
        ReservationFactory(seat=seat, **first)

        with pytest.raises(IntegrityError), transaction.atomic():
            ReservationFactory(seat=seat, **second)

    def test_expired_rows_do_not_block_a_new_hold(self, concert_date):
        seat = concert_date.seats.first()
        ReservationFactory(seat=seat, expired=True)
        ReservationFactory(seat=seat, expired=True)

        assert ReservationFactory(seat=seat).status == Status.HELD

    def test_confirmed_needs_a_confirmation_time(self, concert_date):
        with pytest.raises(IntegrityError), transaction.atomic():
            ReservationFactory(seat=concert_date.seats.first(), status=Status.CONFIRMED, confirmed_at=None)


class TestLockPayable:
    def test_returns_live_holds_in_pk_order(self, user, concert_date):
        seats = list(concert_date.seats.all())
        second = ReservationFactory(user=user, seat=seats[1])
        first = ReservationFactory(user=user, seat=seats[0])

        with transaction.atomic():
            locked = reservations_lock_payable(user=user, reservation_ids=[first.pk, second.pk])

        assert [r.pk for r in locked] == sorted([first.pk, second.pk])

    def test_another_users_or_unknown_reservation_is_not_found(self, user, concert_date):
        mine = ReservationFactory(user=user, seat=concert_date.seats.get(number=1))
        theirs = ReservationFactory(seat=concert_date.seats.get(number=2))

        for ids in ([theirs.pk], [mine.pk, theirs.pk], [mine.pk, 987_654]):
            with pytest.raises(ReservationNotFound), transaction.atomic():
                reservations_lock_payable(user=user, reservation_ids=ids)

    @pytest.mark.parametrize(
        "trait, error", [({"confirmed": True}, ReservationAlreadyPaid), ({"lapsed": True}, ReservationExpired)]
    )
    def test_paid_and_lapsed(self, user, concert_date, trait, error):
        reservation = ReservationFactory(user=user, seat=concert_date.seats.first(), **trait)

        with pytest.raises(error), transaction.atomic():
            locked = reservations_lock_payable(user=user, reservation_ids=[reservation.pk])
            reservations_check_payable(reservations=locked, now=timezone.now())

    def test_swept_is_expired(self, user, concert_date):
        reservation = ReservationFactory(user=user, seat=concert_date.seats.first(), expired=True)

        with pytest.raises(ReservationExpired), transaction.atomic():
            locked = reservations_lock_payable(user=user, reservation_ids=[reservation.pk])
            reservations_check_payable(reservations=locked, now=timezone.now())

    def test_cancelled_is_no_longer_held(self, user, concert_date):
        reservation = ReservationFactory(
            user=user, seat=concert_date.seats.first(), status=Status.CANCELLED, cancelled_at=timezone.now()
        )

        with pytest.raises(ReservationExpired, match="cancelled"), transaction.atomic():
            locked = reservations_lock_payable(user=user, reservation_ids=[reservation.pk])
            reservations_check_payable(reservations=locked, now=timezone.now())

    def test_confirm(self, user, concert_date):
        reservation = ReservationFactory(user=user, seat=concert_date.seats.first())
        now = timezone.now()

        with transaction.atomic():
            locked = reservations_lock_payable(user=user, reservation_ids=[reservation.pk])
            reservations_confirm(reservations=locked, now=now)

        reservation.refresh_from_db()
        assert (reservation.status, reservation.confirmed_at) == (Status.CONFIRMED, now)


class TestRelease:
    def test_frees_a_live_hold(self, concert_date):
        reservation = ReservationFactory(seat=concert_date.seats.first())

        assert reservation_release(reservation_id=reservation.pk) is True

        reservation.refresh_from_db()
        assert reservation.status == Status.EXPIRED
        assert not seat_taken(reservation.seat, timezone.now())

    @pytest.mark.parametrize("trait, status", [("confirmed", Status.CONFIRMED), ("expired", Status.EXPIRED)])
    def test_leaves_sold_and_expired_alone(self, concert_date, trait, status):
        reservation = ReservationFactory(seat=concert_date.seats.first(), **{trait: True})

        assert reservation_release(reservation_id=reservation.pk) is False

        reservation.refresh_from_db()
        assert reservation.status == status


class TestSweep:
    def _mixed(self, concert_date, lapsed: int) -> tuple[list[Reservation], list[Reservation]]:
        seats = iter(concert_date.seats.order_by("number"))
        stale = [ReservationFactory(seat=next(seats), lapsed=True) for _ in range(lapsed)]
        untouched = [
            ReservationFactory(seat=next(seats)),
            ReservationFactory(seat=next(seats), confirmed=True),
            ReservationFactory(seat=next(seats), expired=True),
        ]
        return stale, untouched

    def test_marks_lapsed_holds_expired_and_nothing_else(self, concert_date):
        stale, untouched = self._mixed(concert_date, lapsed=3)
        before = {r.pk: r.status for r in untouched}

        assert holds_sweep() == 3

        assert set(Reservation.objects.filter(pk__in=[r.pk for r in stale]).values_list("status", flat=True)) == {
            Status.EXPIRED
        }
        assert dict(Reservation.objects.filter(pk__in=before).values_list("pk", "status")) == before

    def test_idempotent(self, concert_date):
        self._mixed(concert_date, lapsed=2)

        assert holds_sweep() == 2
        assert holds_sweep() == 0

    def test_a_live_hold_is_swept_only_once_it_lapses(self, concert_date):
        reservation = ReservationFactory(seat=concert_date.seats.first())

        assert holds_sweep(now=reservation.expires_at - dt.timedelta(seconds=1)) == 0
        assert holds_sweep(now=reservation.expires_at) == 1

    def test_works_in_batches(self, concert_date):
        self._mixed(concert_date, lapsed=5)

        with CaptureQueriesContext(connection) as queries:
            assert holds_sweep(batch_size=2) == 5

        updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
        assert len(updates) == 3  # 2 + 2 + 1
        assert Reservation.objects.filter(status=Status.HELD, expires_at__lte=timezone.now()).count() == 0

    def test_a_swept_seat_can_be_held_again(self, user, concert_date):
        ReservationFactory(seat=concert_date.seats.get(number=1), lapsed=True)
        holds_sweep()

        assert hold(user, concert_date, 1).status == Status.HELD

    def test_the_scheduled_task_sweeps(self, concert_date):
        self._mixed(concert_date, lapsed=2)

        assert sweep_lapsed_holds() == 2

    def test_the_management_command_sweeps(self, concert_date, capsys):
        self._mixed(concert_date, lapsed=3)

        call_command("sweep_holds", "--batch-size", "2")

        assert "swept 3 lapsed hold(s)" in capsys.readouterr().out
        assert not Reservation.objects.filter(status=Status.HELD, expires_at__lte=timezone.now()).exists()

    @pytest.mark.parametrize("batch_size", ["0", "-1", "many"])
    def test_the_management_command_refuses_a_batch_size_below_one(self, concert_date, batch_size):
        self._mixed(concert_date, lapsed=1)

        with pytest.raises(CommandError, match="batch-size"):
            call_command("sweep_holds", "--batch-size", batch_size)

    def test_migrate_creates_the_schedule_once(self):
        migration = importlib.import_module("apps.reservations.migrations.0002_sweeper_schedule")

        migration.create(django_apps, None)  # migrate ran it already; running it again changes nothing

        schedule = Schedule.objects.get(name=migration.SCHEDULE_NAME)
        assert schedule.func == "apps.reservations.tasks.sweep_lapsed_holds"
        assert schedule.repeats == -1
