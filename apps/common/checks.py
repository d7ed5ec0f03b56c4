"""System checks of our own, run by `manage.py check` (those tagged deploy by `check --deploy`)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.compatibility, deploy=True)
def shared_store_configured(app_configs, **kwargs):
    """Several processes share the waiting line and the throttle counters only through Redis;
    without REDIS_URL each process would keep a line and counts of its own."""
    if settings.REDIS_URL:
        return []
    return [
        checks.Error(
            "REDIS_URL is not set: every process would keep its own waiting line and throttle counts.",
            hint="Set REDIS_URL=redis://host:6379/0 (the demo's embedded store is for one process only).",
            id="common.E001",
        )
    ]
