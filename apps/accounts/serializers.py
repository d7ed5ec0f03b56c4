from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers

from apps.common.fields import StrictCharField


class UserCreateInputSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150, validators=[UnicodeUsernameValidator()])


class NewUserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    api_key = serializers.CharField(help_text="Shown once. Send it as `Authorization: Token <api_key>`.")
