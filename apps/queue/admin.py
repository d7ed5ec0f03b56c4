from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.utils import timezone

from apps.queue.line import Counts
from apps.queue.models import QUEUE_STATE_PK, QueueEntry, QueueState
from apps.queue.services import queue_entries_end, queue_line_counts, queue_state_update


@admin.register(QueueEntry)
class QueueEntryAdmin(admin.ModelAdmin):
    list_display = ("ticket", "user", "status", "created_at", "admitted_at", "expires_at", "ended_at")
    list_filter = ("status",)
    search_fields = ("user__username", "=id")
    list_select_related = ("user",)
    ordering = ("-id",)
    actions = ["end_tokens"]
    readonly_fields = [field.name for field in QueueEntry._meta.fields if field.name != "nonce"]
    exclude = ("nonce",)
    show_full_result_count = False  # no COUNT(*) over a million-row line on every page

    @admin.display(description="ticket", ordering="id")
    def ticket(self, obj):
        return obj.pk

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_end_permission(self, request):
        # Nobody edits an entry's fields, but ending one is a change: seeing the line is not enough.
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('change', self.opts)}")

    @admin.action(description="End the selected tokens (frees their slots)", permissions=["end"])
    def end_tokens(self, request, queryset):
        ids = list(queryset.live().values_list("pk", flat=True))
        ended = queue_entries_end(entry_ids=ids)
        self.message_user(request, f"Ended {ended} token(s).", messages.SUCCESS)


@admin.register(QueueState)
class QueueStateAdmin(admin.ModelAdmin):
    """The one control row: change the active limit or pause admission at runtime."""

    fields = ("active_limit", "paused", "line_summary", "now_serving", "admitted_total", "seconds_per_admission")
    readonly_fields = ("line_summary", "now_serving", "admitted_total", "seconds_per_admission")
    list_display = ("__str__", "active_limit", "paused", "now_serving", "line_summary")

    def get_queryset(self, request):
        QueueState.objects.get_or_create(pk=QUEUE_STATE_PK)
        return super().get_queryset(request)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @staticmethod
    def _counts(obj) -> Counts:
        """The line as it stands, read from Redis once per page (four fields show it)."""
        if not hasattr(obj, "_line_counts"):
            obj._line_counts = queue_line_counts(now=timezone.now())
        return obj._line_counts

    @admin.display(description="Line now")
    def line_summary(self, obj):
        counts = self._counts(obj)
        return f"{counts.waiting} waiting, {counts.active} active (limit {obj.effective_active_limit})"

    @admin.display(description="Now serving (the ticket at the head of the line)")
    def now_serving(self, obj):
        return self._counts(obj).head or "nobody waits"

    @admin.display(description="Admitted since the line was loaded")
    def admitted_total(self, obj):
        return self._counts(obj).admitted_total

    @admin.display(description="Seconds per admission (moving average)")
    def seconds_per_admission(self, obj):
        rate = self._counts(obj).seconds_per_admission
        return "no history yet" if rate is None else f"{rate:.2f}"

    def save_model(self, request, obj, form, change):
        queue_state_update(active_limit=obj.active_limit, paused=obj.paused)
