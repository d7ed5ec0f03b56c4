from django.conf import settings
from django.db import models

from apps.reservations.models import Reservation


class Payment(models.Model):
    """A wallet payment for one or more reservations, made in one transaction."""

    class Status(models.TextChoices):
        PAID = "PAID"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    amount = models.PositiveBigIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PAID)
    paid_at = models.DateTimeField()
    reservations = models.ManyToManyField(Reservation, through="PaymentItem", related_name="payments")

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="payments_amount_positive")]

    def __str__(self):
        return f"payment {self.pk}: {self.amount} won"


class PaymentItem(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="items")
    # One-to-one: a reservation is paid at most once, whatever the code does.
    reservation = models.OneToOneField(Reservation, on_delete=models.PROTECT, related_name="payment_item")
    amount = models.PositiveIntegerField()

    def __str__(self):
        return f"{self.reservation} in {self.payment}"
