"""A failed ledger audit is loud, from the command and from the hourly task alike: a non-zero
exit (the command), an ERROR log line naming the rows, and concert_audit_violations in /metrics."""

import io
import logging

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.common.tests.wsgi import METRICS_TOKEN, scrape, value
from apps.payments import tasks
from apps.payments.audit import LOGGED_PROBLEMS, ledger_audit, ledger_audit_last
from apps.reservations.models import Reservation
from apps.reservations.tests.factories import ReservationFactory
from apps.wallet.models import Wallet
from apps.wallet.services import wallet_charge

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("wsgi_in_test_transaction")]


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN


@pytest.fixture
def damaged(user):
    """A balance changed behind the ledger's back, and a seat sold without a payment."""
    wallet_charge(user=user, amount=10_000)
    wallet = Wallet.objects.get(user=user)
    Wallet.objects.filter(pk=wallet.pk).update(balance=wallet.balance + 1)
    stray = ReservationFactory(user=user, status=Reservation.Status.CONFIRMED, confirmed_at=timezone.now())
    return [f"wallet {wallet.pk}", f"reservation {stray.pk}"]


def audit_errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "apps.payments.audit" and r.levelno == logging.ERROR]


def run_command():
    call_command("audit_ledger", stdout=io.StringIO(), stderr=io.StringIO())


def run_task():
    return tasks.audit_ledger()


@pytest.mark.parametrize("run", [run_command, run_task], ids=["command", "hourly task"])
def test_a_failed_audit_logs_one_error_naming_the_rows_and_sets_the_metric(run, damaged, metrics_on, caplog):
    problems = ledger_audit()
    assert len(problems) >= 2

    if run is run_command:
        with pytest.raises(CommandError):
            run()
    else:
        assert run() == len(problems)

    [line] = audit_errors(caplog)
    assert line.getMessage().startswith(f"ledger audit failed: {len(problems)} problem(s): ")
    assert all(problem in line.getMessage() for problem in problems)
    assert all(row in line.getMessage() for row in damaged)
    assert (line.violations, line.problems) == (len(problems), problems)
    samples = scrape()
    assert value(samples, "concert_audit_violations") == len(problems)
    assert value(samples, "concert_audit_last_run_timestamp_seconds") == ledger_audit_last().finished_at


def test_a_passing_audit_clears_the_alarm(damaged, metrics_on, caplog):
    run_task()
    Wallet.objects.update(balance=10_000)
    Reservation.objects.update(status=Reservation.Status.EXPIRED)

    assert run_task() == 0

    assert audit_errors(caplog)[1:] == []
    assert value(scrape(), "concert_audit_violations") == 0


def test_before_any_audit_there_is_no_alarm_metric(metrics_on):
    samples = scrape()
    assert ("concert_audit_violations", ()) not in samples
    assert value(samples, "concert_metrics_source_up", source="audit") == 1


def test_a_long_list_is_cut_in_the_log_and_says_where_the_rest_is(user, caplog, monkeypatch):
    from apps.payments import audit

    monkeypatch.setattr(audit, "ledger_audit", lambda: [f"wallet {n}: damaged" for n in range(LOGGED_PROBLEMS + 5)])

    assert run_task() == LOGGED_PROBLEMS + 5

    [line] = audit_errors(caplog)
    assert f"wallet {LOGGED_PROBLEMS - 1}: damaged" in line.getMessage()
    assert f"wallet {LOGGED_PROBLEMS}: damaged" not in line.getMessage()
    assert "and 5 more: run manage.py audit_ledger" in line.getMessage()
    assert ledger_audit_last().violations == LOGGED_PROBLEMS + 5
