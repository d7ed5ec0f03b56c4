from django.urls import path

from apps.concerts.apis import ConcertListApi

urlpatterns = [
    path("concerts", ConcertListApi.as_view(), name="concert-list"),
]
