from django.contrib import admin

from apps.payments.models import Payment, PaymentItem


class PaymentItemInline(admin.TabularInline):
    model = PaymentItem
    extra = 0
    fields = ("reservation", "amount")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Read-only: a payment is a fact. Refunds would be a new ledger entry, not an edit."""

    list_display = ("id", "user", "amount", "status", "paid_at")
    list_filter = ("status", "paid_at")
    search_fields = ("user__username", "=id")
    list_select_related = ("user",)
    date_hierarchy = "paid_at"
    inlines = [PaymentItemInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
