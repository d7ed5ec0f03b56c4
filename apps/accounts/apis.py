from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.accounts.serializers import NewUserOutputSerializer, UserCreateInputSerializer
from apps.accounts.services import user_create
from apps.common.schema import problem_responses
from apps.common.throttles import ClientIpThrottle
from apps.common.viewsets import ApiViewSet


class SignupThrottle(ClientIpThrottle):
    scope = "signup"


class UserViewSet(ApiViewSet):
    authentication_classes = []
    permission_classes = []
    throttle_classes = [SignupThrottle]

    @extend_schema(
        operation_id="users_create",
        summary="Sign up",
        request=UserCreateInputSerializer,
        responses={
            201: NewUserOutputSerializer,
            **problem_responses({400: ["VALIDATION_ERROR"], 409: ["USERNAME_TAKEN"]}),
        },
        auth=[],
        tags=["accounts"],
    )
    def create(self, request):
        serializer = UserCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, api_key = user_create(username=serializer.validated_data["username"])
        body = NewUserOutputSerializer({"id": user.pk, "username": user.username, "api_key": api_key}).data
        return Response(body, status=status.HTTP_201_CREATED)
