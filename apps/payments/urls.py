from django.urls import path

from apps.payments.apis import PaymentCreateApi

urlpatterns = [
    path("payments", PaymentCreateApi.as_view(), name="payment-create"),
]
