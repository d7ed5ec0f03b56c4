from django.urls import path

from apps.reservations.apis import (
    BookableDateListApi,
    ReservationCollectionApi,
    ReservationDetailApi,
    SeatMapApi,
)

urlpatterns = [
    path("concerts/<str:concert_id>/dates", BookableDateListApi.as_view(), name="concert-dates"),
    path("concerts/<str:concert_id>/dates/<str:date>/seats", SeatMapApi.as_view(), name="concert-date-seats"),
    path("reservations", ReservationCollectionApi.as_view(), name="reservations"),
    path("reservations/<str:reservation_id>", ReservationDetailApi.as_view(), name="reservation-detail"),
]
