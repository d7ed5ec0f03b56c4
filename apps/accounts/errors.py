from django.utils.translation import gettext_lazy as _

from apps.common.errors import ApplicationError


class UsernameTaken(ApplicationError):
    status, code, title = 409, "USERNAME_TAKEN", _("Username taken")
    default_detail = _("That username is already taken.")
