from django.contrib.auth.validators import UnicodeUsernameValidator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.services import user_create
from apps.common.fields import StrictCharField
from apps.common.schema import problem_responses
from apps.common.throttles import ClientIpThrottle


class SignupThrottle(ClientIpThrottle):
    scope = "signup"


class UserCreateApi(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = [SignupThrottle]

    class InputSerializer(serializers.Serializer):
        username = StrictCharField(max_length=150, validators=[UnicodeUsernameValidator()])

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        api_key = serializers.CharField(help_text="Shown once. Send it as `Authorization: Token <api_key>`.")

    @extend_schema(
        operation_id="users_create",
        summary="Sign up",
        request=InputSerializer,
        responses={201: OutputSerializer, **problem_responses({400: ["VALIDATION_ERROR"], 409: ["USERNAME_TAKEN"]})},
        auth=[],
        tags=["accounts"],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, api_key = user_create(username=serializer.validated_data["username"])
        body = self.OutputSerializer({"id": user.pk, "username": user.username, "api_key": api_key}).data
        return Response(body, status=status.HTTP_201_CREATED)
