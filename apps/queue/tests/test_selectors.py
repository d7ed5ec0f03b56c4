from apps.queue.line import Place
from apps.queue.selectors import MAX_POLL_AFTER_SECONDS, estimated_wait_seconds, place_is_admitted, poll_after_seconds


def waiting(position: int, *, paused: bool = False, per_admission: float | None = 2.0) -> Place:
    return Place(status="WAITING", position=position, paused=paused, seconds_per_admission=per_admission)


def test_the_wait_is_the_place_times_the_observed_time_per_admission():
    assert [estimated_wait_seconds(waiting(position)) for position in (1, 2, 10)] == [2, 4, 20]
    assert estimated_wait_seconds(waiting(1, per_admission=0.01)) == 1  # never 0 while waiting
    assert estimated_wait_seconds(Place(status="ACTIVE")) == 0


def test_without_history_the_wait_assumes_every_slot_is_held_for_its_whole_ttl(settings):
    settings.QUEUE_ACTIVE_TTL_SECONDS, settings.QUEUE_ACTIVE_LIMIT = 600, 100

    assert estimated_wait_seconds(waiting(10, per_admission=None)) == 60
    staff_limit = Place(status="WAITING", position=10, active_limit=10)
    assert estimated_wait_seconds(staff_limit) == 600


def test_while_paused_nobody_is_given_an_estimate():
    assert estimated_wait_seconds(waiting(3, paused=True)) is None


def test_polls_thin_out_with_the_distance_from_the_head(settings):
    settings.QUEUE_ABANDON_SECONDS = 120
    intervals = [poll_after_seconds(waiting(position)) for position in (1, 10, 30, 100, 10_000)]

    assert intervals == sorted(intervals)
    assert intervals[0] == 1
    assert intervals[-1] == MAX_POLL_AFTER_SECONDS


def test_the_head_of_the_line_polls_often_even_when_the_estimate_is_long(settings):
    settings.QUEUE_ABANDON_SECONDS = 120

    assert poll_after_seconds(waiting(1, per_admission=600)) == 1
    assert poll_after_seconds(waiting(25, per_admission=600)) == 3


def test_nobody_is_asked_to_wait_so_long_between_polls_that_they_drop_out(settings):
    settings.QUEUE_ABANDON_SECONDS = 8

    assert poll_after_seconds(waiting(10_000)) == 2
    assert poll_after_seconds(waiting(5, paused=True)) == 2
    assert poll_after_seconds(Place(status="ACTIVE")) == 2


def test_only_an_active_place_may_book():
    assert place_is_admitted(Place(status="ACTIVE"))
    assert not any(place_is_admitted(Place(status=status)) for status in ("WAITING", "EXPIRED", "UNKNOWN"))
