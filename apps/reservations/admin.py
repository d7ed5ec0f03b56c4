from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils import timezone

from apps.concerts.models import ConcertDate, Seat
from apps.reservations.models import Reservation, live_hold_q
from apps.reservations.services import reservation_release

Status = Reservation.Status


class EffectiveStatusFilter(admin.SimpleListFilter):
    """Status as users see it: a HELD row past its expiry is EXPIRED even before the sweep."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Status.choices

    def queryset(self, request, queryset):
        if self.value() not in Status.values:
            return queryset
        return queryset.with_effective_status(self.value(), timezone.now())


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "concert", "date", "seat_number", "price", "shown_status", "expires_at")
    list_filter = (EffectiveStatusFilter, "seat__concert_date__concert", "seat__concert_date__date")
    search_fields = ("user__username", "=id", "seat__concert_date__concert__title")
    list_select_related = ("user", "seat__concert_date__concert")
    readonly_fields = ("user", "seat", "price", "status", "created_at", "expires_at", "confirmed_at")
    actions = ["release_holds"]
    ordering = ("-id",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Concert", ordering="seat__concert_date__concert__title")
    def concert(self, obj):
        return obj.seat.concert_date.concert.title

    @admin.display(description="Date", ordering="seat__concert_date__date")
    def date(self, obj):
        return obj.seat.concert_date.date

    @admin.display(description="Seat", ordering="seat__number")
    def seat_number(self, obj):
        return obj.seat.number

    @admin.display(description="Status")
    def shown_status(self, obj):
        return obj.effective_status(timezone.now())

    @admin.action(description="Release the selected holds now", permissions=["change"])
    def release_holds(self, request, queryset):
        released = sum(reservation_release(reservation_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"Released {released} hold(s).", messages.SUCCESS)


class SeatInline(admin.TabularInline):
    model = Seat
    extra = 0
    fields = ("number", "price")
    ordering = ("number",)


@admin.register(ConcertDate)
class ConcertDateAdmin(admin.ModelAdmin):
    """A concert date with its seats, and how many are free, held and sold right now."""

    list_display = ("concert", "date", "seat_total", "free", "held", "sold")
    list_filter = ("concert", "date")
    search_fields = ("concert__title",)
    list_select_related = ("concert",)
    inlines = [SeatInline]

    def get_queryset(self, request):
        live_hold = live_hold_q(timezone.now(), prefix="seats__reservations__")
        return (
            super()
            .get_queryset(request)
            .annotate(
                seat_total=Count("seats", distinct=True),
                held_count=Count("seats__reservations", filter=live_hold),
                sold_count=Count("seats__reservations", filter=Q(seats__reservations__status=Status.CONFIRMED)),
            )
        )

    @admin.display(description="Seats", ordering="seat_total")
    def seat_total(self, obj):
        return obj.seat_total

    @admin.display(description="Held")
    def held(self, obj):
        return obj.held_count

    @admin.display(description="Sold")
    def sold(self, obj):
        return obj.sold_count

    @admin.display(description="Free")
    def free(self, obj):
        return obj.seat_total - obj.held_count - obj.sold_count
