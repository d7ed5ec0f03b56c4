from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers

from apps.accounts.services import username_normalize
from apps.common.fields import StrictCharField


class UsernameField(StrictCharField):
    """Checked in the form it is stored in (NFKC), as the service checks it."""

    def to_internal_value(self, data):
        return username_normalize(super().to_internal_value(data))


class UserCreateInputSerializer(serializers.Serializer):
    username = UsernameField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="1 to 150 letters, digits and @.+-_ after NFKC normalisation; unique in that form, "
        "whatever the case.",
    )


class NewUserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(help_text="As stored: the NFKC form of the name sent.")
    api_key = serializers.CharField(help_text="Shown once. Send it as `Authorization: Token <api_key>`.")
