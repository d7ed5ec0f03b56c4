import json

from django.core.management.base import BaseCommand

from apps.common.fields import positive_int_argument
from apps.queue.selectors import queue_state_get
from apps.queue.services import queue_line_counts, queue_state_update


class Command(BaseCommand):
    help = (
        "Change admission at runtime (the admin's queue control switches) and print the queue's "
        'state as one JSON object on the last line: {"paused", "active_limit", "waiting", "active"}. '
        "With no flag it only prints."
    )

    def add_arguments(self, parser):
        switch = parser.add_mutually_exclusive_group()
        switch.add_argument("--pause", action="store_true", help="Admit nobody new until resumed.")
        switch.add_argument("--resume", action="store_true", help="Admit again (into any free slot at once).")
        parser.add_argument("--limit", type=positive_int_argument, help="Tokens ACTIVE at once, from now on.")

    def handle(self, *args, pause: bool, resume: bool, limit: int | None, **options):
        state = queue_state_get()
        if pause or resume or limit is not None:
            paused = pause or (state.paused and not resume)
            state = queue_state_update(active_limit=limit or state.active_limit, paused=paused)
            self.stderr.write(f"admission {'paused' if state.paused else 'open'}, limit {state.effective_active_limit}")
        counts = queue_line_counts()
        self.stdout.write(
            json.dumps(
                {
                    "paused": state.paused,
                    "active_limit": state.effective_active_limit,
                    "waiting": counts.waiting,
                    "active": counts.active,
                }
            )
        )
