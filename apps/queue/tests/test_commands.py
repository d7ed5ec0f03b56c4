import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.tests.factories import UserFactory
from apps.queue.selectors import queue_state_get
from apps.queue.services import queue_token_issue

pytestmark = pytest.mark.django_db


def queue_control(*args: str) -> dict:
    out = StringIO()
    call_command("queue_control", *args, stdout=out, stderr=StringIO())
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.fixture
def line(settings):
    """Two ACTIVE tokens and three waiting."""
    settings.QUEUE_ACTIVE_LIMIT = 2
    return [queue_token_issue(user=UserFactory())[0] for _ in range(5)]


def test_with_no_flag_it_only_prints_the_state(line):
    assert queue_control() == {"paused": False, "active_limit": 2, "waiting": 3, "active": 2}
    assert queue_state_get().active_limit is None  # nothing stored


def test_pause_and_resume_take_effect_at_once(line):
    assert queue_control("--pause")["paused"] is True
    assert queue_state_get().paused

    assert queue_control("--resume", "--limit", "4") == {"paused": False, "active_limit": 4, "waiting": 1, "active": 4}


def test_a_new_limit_keeps_the_pause(line):
    queue_control("--pause")

    assert queue_control("--limit", "5") == {"paused": True, "active_limit": 5, "waiting": 3, "active": 2}


@pytest.mark.parametrize("args", [["--limit", "0"], ["--limit", "-3"], ["--limit", "x"], ["--pause", "--resume"]])
def test_bad_flags_are_refused_and_change_nothing(line, args):
    with pytest.raises(CommandError):
        call_command("queue_control", *args, stdout=StringIO(), stderr=StringIO())

    assert (queue_state_get().paused, queue_state_get().active_limit) == (False, None)
