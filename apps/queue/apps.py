from django.apps import AppConfig


class QueueConfig(AppConfig):
    name = "apps.queue"
    label = "queue"
    verbose_name = "Waiting queue"

    def ready(self):
        from apps.queue import schema  # noqa: F401  registers the OpenAPI security scheme
