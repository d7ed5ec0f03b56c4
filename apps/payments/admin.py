from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.common.fields import positive_int_or_none
from apps.common.formats import won
from apps.payments.models import Payment, PaymentItem
from apps.payments.sale_overview import sale_overview
from apps.payments.selectors import DateCancelResult, concert_date_cancel_preview
from apps.payments.services import concert_date_cancel
from apps.queue.models import QUEUE_STATE_PK
from apps.reservations.selectors import date_seat_counts

# Calling a date off closes it and moves money back to wallets: staff who may change dates and wallets.
CANCEL_PERMISSIONS = ("concerts.change_concertdate", "wallet.change_wallet")
SALE_REFRESH_SECONDS = 10


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

    # --- the box office's pages: the live sale of a concert, calling dates off ---

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("sale/<int:concert_id>/", wrap(self.sale_view), name="payments_sale"),
            path("cancel-dates/", wrap(self.cancel_dates_view), name="payments_concert_dates_cancel"),
            *super().get_urls(),
        ]

    def sale_view(self, request, concert_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            overview = sale_overview(concert_id=concert_id)
        except ApplicationError as error:  # CONCERT_NOT_FOUND
            raise Http404(error.detail) from error
        context = {
            **self.admin_site.each_context(request),
            "title": f"Live sale: {overview.concert}",
            "opts": self.opts,
            "overview": overview,
            "refresh_seconds": SALE_REFRESH_SECONDS,
            "queue_control_url": reverse("admin:queue_queuestate_change", args=[QUEUE_STATE_PK]),
            "may_cancel": request.user.has_perms(CANCEL_PERMISSIONS),
        }
        return TemplateResponse(request, "admin/payments/sale.html", context)

    def cancel_dates_view(self, request):
        """Call dates off: a preview of what will happen first, then, once confirmed, the
        service. Safe to submit twice: a date already called off reports zeros."""
        if not request.user.has_perms(CANCEL_PERMISSIONS):
            raise PermissionDenied
        ids = [pk for pk in map(positive_int_or_none, request.GET.get("ids", "").split(",")) if pk is not None]
        dates = date_seat_counts(concert_date_ids=ids, now=timezone.now())
        if not dates:
            self.message_user(request, "Choose one or more dates first.", messages.WARNING)
            return redirect("admin:concerts_concertdate_changelist")
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            for row in dates:
                result = concert_date_cancel(concert_date_id=row.concert_date.pk)
                self.message_user(request, f"{row.concert_date} is called off: {done_text(result)}", messages.SUCCESS)
            if len(dates) == 1:
                return redirect("admin:concerts_concertdate_change", dates[0].concert_date.pk)
            return redirect("admin:concerts_concertdate_changelist")
        previews = [(row, concert_date_cancel_preview(concert_date_id=row.concert_date.pk)) for row in dates]
        context = {
            **self.admin_site.each_context(request),
            "title": "Call off " + ("this date" if len(dates) == 1 else f"{len(dates)} dates"),
            "opts": self.opts,
            "previews": previews,
            "refund_total": sum(preview.refund_total for _, preview in previews),
            "back_url": reverse("admin:concerts_concertdate_changelist"),
        }
        return TemplateResponse(request, "admin/payments/cancel_dates.html", context)


def done_text(result: DateCancelResult) -> str:
    return (
        f"{result.refunded_seats} seat(s) refunded ({won(result.refund_total)}), "
        f"{result.released_holds} hold(s) released."
    )
