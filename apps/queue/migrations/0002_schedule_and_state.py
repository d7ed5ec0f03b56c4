from django.db import migrations

from apps.queue.models import QUEUE_STATE_PK

SCHEDULE_NAME = "queue: admit and expire"


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "apps.queue.tasks.queue_maintain", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )
    apps.get_model("queue", "QueueState").objects.get_or_create(pk=QUEUE_STATE_PK)


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("queue", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
