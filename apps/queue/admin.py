from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import Count, Q
from django.utils import timezone

from apps.queue.models import QueueEntry, QueueState
from apps.queue.selectors import QUEUE_STATE_PK, abandon_cutoff
from apps.queue.services import queue_entry_end, queue_state_update

Status = QueueEntry.Status


@admin.register(QueueEntry)
class QueueEntryAdmin(admin.ModelAdmin):
    list_display = ("ticket", "user", "status", "created_at", "admitted_at", "expires_at", "last_seen_at")
    list_filter = ("status",)
    search_fields = ("user__username", "=ticket")
    list_select_related = ("user",)
    ordering = ("-ticket",)
    actions = ["end_tokens"]
    readonly_fields = [field.name for field in QueueEntry._meta.fields if field.name != "nonce"]
    exclude = ("nonce",)
    show_full_result_count = False  # no COUNT(*) over a million-row line on every page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_end_permission(self, request):
        # Nobody edits an entry's fields, but ending one is a change: seeing the line is not enough.
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('change', self.opts)}")

    @admin.action(description="End the selected tokens (frees their slots)", permissions=["end"])
    def end_tokens(self, request, queryset):
        ids = list(queryset.filter(status__in=[Status.WAITING, Status.ACTIVE]).values_list("pk", flat=True))
        for entry_id in ids:
            queue_entry_end(entry_id=entry_id)
        self.message_user(request, f"Ended {len(ids)} token(s).", messages.SUCCESS)


@admin.register(QueueState)
class QueueStateAdmin(admin.ModelAdmin):
    """The one control row: change the active limit or pause admission at runtime."""

    fields = ("active_limit", "paused", "line_summary", "now_serving", "last_ticket", "seconds_per_admission")
    readonly_fields = ("line_summary", "now_serving", "last_ticket", "seconds_per_admission")
    list_display = ("__str__", "active_limit", "paused", "now_serving", "last_ticket", "line_summary")

    def get_queryset(self, request):
        QueueState.objects.get_or_create(pk=QUEUE_STATE_PK)
        return super().get_queryset(request)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Line now")
    def line_summary(self, obj):
        now = timezone.now()
        counts = QueueEntry.objects.aggregate(
            waiting=Count("pk", filter=Q(status=Status.WAITING, last_seen_at__gt=abandon_cutoff(now))),
            active=Count("pk", filter=Q(status=Status.ACTIVE, expires_at__gt=now)),
            expired=Count("pk", filter=Q(status=Status.EXPIRED)),
        )
        return (
            f"{counts['waiting']} waiting, {counts['active']} active "
            f"(limit {obj.effective_active_limit}), {counts['expired']} ended"
        )

    def save_model(self, request, obj, form, change):
        queue_state_update(active_limit=obj.active_limit, paused=obj.paused)
