"""django-q2 scheduled task (created by migration): idempotent, safe beside holds and payments."""

from apps.reservations.services import holds_sweep


def sweep_lapsed_holds() -> int:
    return holds_sweep()
