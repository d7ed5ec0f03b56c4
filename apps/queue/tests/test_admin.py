"""Staff watch the line and steer admission from Django admin."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.queue.models import QUEUE_STATE_PK, QueueEntry
from apps.queue.selectors import queue_state_get
from apps.queue.services import queue_line_counts, queue_token_issue
from apps.queue.tests.factories import end_and_commit
from apps.queue.tokens import token_for

pytestmark = pytest.mark.django_db

Status = QueueEntry.Status
ENTRIES = reverse("admin:queue_queueentry_changelist")
CONTROL = reverse("admin:queue_queuestate_changelist")
CONTROL_FORM = reverse("admin:queue_queuestate_change", args=[QUEUE_STATE_PK])


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # for admin_client's superuser


@pytest.fixture
def line(settings) -> list[QueueEntry]:
    """One has paid, two are admitted (the paid one's slot went to the head of the line at
    once), three wait."""
    settings.QUEUE_ACTIVE_LIMIT = 2
    entries = [queue_token_issue(user=UserFactory(username=f"fan{n}"))[0] for n in range(6)]
    end_and_commit(entry_id=entries[0].pk)
    return entries


def line_now() -> tuple[int, int]:
    """(waiting, active) as the line sees it: an admission reaches PostgreSQL only when its
    holder next books (or asks for the token again), or when the scheduled sync runs."""
    counts = queue_line_counts()
    return counts.waiting, counts.active


def save_control(admin_client, **fields):
    return admin_client.post(CONTROL_FORM, {"active_limit": "", **fields, "_save": "Save"})


def test_the_control_page_shows_the_line_now(admin_client, line):
    response = admin_client.get(CONTROL)

    assert response.status_code == 200
    assert "3 waiting, 2 active (limit 2)" in response.text


def test_the_control_form_loads(admin_client, line):
    response = admin_client.get(CONTROL_FORM)

    assert response.status_code == 200
    assert "3 waiting, 2 active (limit 2)" in response.text
    assert f'<div class="readonly">{line[3].pk}</div>' in response.text  # now serving: the head


def test_staff_pause_admission_from_the_control_form(admin_client, line):
    active_before = QueueEntry.objects.filter(status=Status.ACTIVE).count()

    response = save_control(admin_client, active_limit="5", paused="on")

    assert response.status_code == 302
    state = queue_state_get()
    assert (state.active_limit, state.paused) == (5, True)
    assert line_now() == (3, 2)  # three slots more, but nobody new got in
    assert QueueEntry.objects.filter(status=Status.ACTIVE).count() == active_before


def test_resuming_or_raising_the_limit_in_the_admin_admits_at_once(admin_client, line):
    save_control(admin_client, active_limit="4", paused="on")

    response = save_control(admin_client, active_limit="4")

    assert response.status_code == 302
    assert line_now() == (1, 4)
    assert not queue_state_get().paused


def test_an_empty_limit_falls_back_to_the_setting(admin_client, line, settings):
    save_control(admin_client, active_limit="1")
    settings.QUEUE_ACTIVE_LIMIT = 3

    save_control(admin_client)

    assert queue_state_get().active_limit is None
    assert line_now() == (2, 3)


def test_the_control_row_cannot_be_deleted(admin_client, line):
    response = admin_client.post(reverse("admin:queue_queuestate_delete", args=[QUEUE_STATE_PK]), {"post": "yes"})

    assert response.status_code == 403
    assert queue_state_get().pk == QUEUE_STATE_PK


@pytest.mark.parametrize("query", ["", "?status__exact=WAITING", "?q=fan3", "?q=4"])
def test_the_entry_list_loads_filtered_and_searched(admin_client, line, query):
    response = admin_client.get(ENTRIES + query)

    assert response.status_code == 200


def test_searching_the_entries_finds_a_user_by_name(admin_client, line):
    response = admin_client.get(ENTRIES + "?q=fan3")

    assert list(response.context["cl"].result_list) == [line[3]]


def test_an_entry_page_shows_no_token_material(admin_client, line):
    entry = line[3]

    response = admin_client.get(reverse("admin:queue_queueentry_change", args=[entry.pk]))

    assert response.status_code == 200
    assert entry.nonce not in response.text
    assert token_for(entry) not in response.text


def end_tokens(client, entries):
    return client.post(ENTRIES, {"action": "end_tokens", "_selected_action": [entry.pk for entry in entries]})


def test_staff_can_end_tokens_to_free_their_slots(admin_client, line, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = end_tokens(admin_client, [line[1], line[3]])

    assert response.status_code == 302
    assert QueueEntry.objects.get(pk=line[1].pk).status == Status.EXPIRED
    assert QueueEntry.objects.get(pk=line[3].pk).status == Status.EXPIRED
    assert line_now() == (1, 2)  # line[1]'s slot went to the next in line; line[3] left it


def test_staff_who_may_only_view_the_line_cannot_end_tokens(client, line):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_queueentry"))
    client.force_login(viewer)

    assert client.get(ENTRIES).status_code == 200
    end_tokens(client, [line[1]])

    assert QueueEntry.objects.get(pk=line[1].pk).status == Status.ACTIVE
