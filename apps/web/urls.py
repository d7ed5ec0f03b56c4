from django.urls import path
from django.views.i18n import set_language

from apps.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("language", set_language, name="set_language"),
    path("signup", views.signup, name="signup"),
    path("signin", views.signin, name="signin"),
    path("signout", views.signout, name="signout"),
    path("concerts/<int:concert_id>/queue", views.queue_join, name="queue_join"),
    path("concerts/<int:concert_id>/waiting-room", views.waiting_room, name="waiting_room"),
    path("queue/status", views.queue_status, name="queue_status"),
    path("concerts/<int:concert_id>/dates", views.dates, name="dates"),
    path("concerts/<int:concert_id>/dates/<str:date>", views.seats, name="seats"),
    path("concerts/<int:concert_id>/dates/<str:date>/hold", views.hold, name="hold"),
    path("checkout", views.checkout, name="checkout"),
    path("checkout/pay", views.pay, name="pay"),
    path("tickets", views.tickets, name="tickets"),
    path("tickets/<int:reservation_id>/cancel", views.ticket_cancel, name="ticket_cancel"),
    path("wallet", views.wallet, name="wallet"),
    path("wallet/top-up", views.top_up, name="top_up"),
    path("confirmation", views.confirmation, name="confirmation"),
]
