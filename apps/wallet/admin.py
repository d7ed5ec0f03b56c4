from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from apps.wallet.errors import InvalidAmount
from apps.wallet.models import LedgerEntry, Wallet
from apps.wallet.services import wallet_adjust


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LedgerEntryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LedgerEntry
    extra = 0
    fields = ("created_at", "kind", "amount", "balance_after", "reference")
    readonly_fields = fields
    ordering = ("-id",)


class AdjustmentForm(forms.Form):
    amount = forms.IntegerField(help_text="Won, signed: positive adds to the balance, negative takes from it.")
    reason = forms.CharField(max_length=100)


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Balances are read-only. Staff correct one with "Adjust balance", which writes an
    ADJUSTMENT ledger entry through the wallet service like any other change."""

    list_display = ("user", "balance", "updated_at")
    search_fields = ("user__username", "=user__id")
    list_select_related = ("user",)
    inlines = [LedgerEntryInline]
    change_form_template = "admin/wallet/wallet/change_form.html"

    def get_urls(self):
        adjust = path(
            "<int:wallet_id>/adjust/", self.admin_site.admin_view(self.adjust_view), name="wallet_wallet_adjust"
        )
        return [adjust, *super().get_urls()]

    def adjust_view(self, request, wallet_id):
        wallet = get_object_or_404(Wallet.objects.select_related("user"), pk=wallet_id)
        if not request.user.has_perm("wallet.change_wallet"):
            messages.error(request, "You may not adjust balances.")
            return redirect("admin:wallet_wallet_change", wallet_id)
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = wallet_adjust(
                    user=wallet.user,
                    amount=form.cleaned_data["amount"],
                    reason=f"{form.cleaned_data['reason']} (by {request.user.username})",
                )
            except InvalidAmount as error:
                form.add_error("amount", error.detail)
            else:
                messages.success(request, f"Recorded {entry}.")
                return redirect("admin:wallet_wallet_change", wallet_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust the balance of {wallet.user}",
            "wallet": wallet,
            "form": form,
            "opts": self.model._meta,
            "back_url": reverse("admin:wallet_wallet_change", args=[wallet_id]),
        }
        return TemplateResponse(request, "admin/wallet/wallet/adjust.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "wallet", "kind", "amount", "balance_after", "reference", "created_at")
    list_filter = ("kind",)
    search_fields = ("wallet__user__username", "reference")
    list_select_related = ("wallet__user",)
