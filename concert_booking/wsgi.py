import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "concert_booking.settings")

django_application = get_wsgi_application()

from concert_booking.edge import EdgeApplication  # noqa: E402  (needs Django set up)

# Queue polls are answered in front of Django; every other request goes to Django.
application = EdgeApplication(django_application)
