from django.conf import settings
from django.db import models

MAX_BALANCE = 10_000_000_000_000
MAX_CHARGE = 1_000_000_000


class Wallet(models.Model):
    """A prepaid balance in won. Only the services in `apps.wallet.services` change it,
    each change written to the ledger in the same transaction."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet")
    balance = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance__gte=0, balance__lte=MAX_BALANCE), name="wallet_balance_in_range"
            ),
        ]

    def __str__(self):
        return f"wallet of {self.user}"


class LedgerKind(models.TextChoices):
    CHARGE = "CHARGE"  # + a top-up
    PAYMENT = "PAYMENT"  # - seats bought
    REFUND = "REFUND"  # + a bought seat's price back (a cancel)
    ADJUSTMENT = "ADJUSTMENT"  # +/- a staff correction


class LedgerEntry(models.Model):
    """One change of one wallet. Append-only: `amount` is signed (+ in, - out) and
    `balance_after` is the balance right after it, so the ledger replays to the balance."""

    Kind = LedgerKind

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reference = models.CharField(max_length=100, blank=True, help_text="What caused it, e.g. payment:42.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["wallet", "-id"], name="wallet_ledger_newest_first")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(amount=0), name="wallet_ledger_amount_nonzero"),
            models.CheckConstraint(condition=models.Q(balance_after__gte=0), name="wallet_ledger_balance_after_nonneg"),
            # Whatever the code does, one cause (e.g. reservation:42) is refunded at most once.
            models.UniqueConstraint(
                fields=["reference"],
                condition=models.Q(kind=LedgerKind.REFUND),
                name="wallet_ledger_one_refund_per_reference",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount:+d} -> {self.balance_after}"
