from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data (`seed_demo`): concerts, users and money, through each app's services.
    It sits above the apps it fills, so none of them depends on it."""

    name = "apps.demo"
    label = "demo"
