from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from apps.accounts.selectors import user_for_api_key


class ApiKeyAuthentication(TokenAuthentication):
    """`Authorization: Token <api_key>`, checked against the stored digest."""

    def authenticate_credentials(self, key):
        user = user_for_api_key(key=key)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        return user, None
