from django.urls import path

from apps.accounts.apis import UserCreateApi

urlpatterns = [
    path("users", UserCreateApi.as_view(), name="user-create"),
]
