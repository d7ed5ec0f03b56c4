import itertools

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from apps.common.fields import positive_int_or_none
from apps.common.formats import won
from apps.concerts.admin import SeatGenerationForm, generated_message
from apps.concerts.models import ConcertDate
from apps.concerts.services import concert_dates_seats_generate
from apps.reservations.models import Reservation
from apps.reservations.selectors import date_seat_counts, seat_map, with_seat_counts
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


def selected_ids(request) -> list[int]:
    """The date ids an action passed on in `?ids=1,2,3` (anything else is left out)."""
    return [pk for pk in map(positive_int_or_none, request.GET.get("ids", "").split(",")) if pk is not None]


def with_ids(url: str, ids) -> str:
    return f"{url}?{urlencode({'ids': ','.join(map(str, ids))})}"


def price_ranges(seats: list[dict]) -> list[tuple[str, int]]:
    """("1-10", 200000), ("11-50", 150000): runs of consecutive seats at one price."""
    ranges = []
    for price, run in itertools.groupby(seats, key=lambda seat: seat["price"]):
        numbers = [seat["number"] for seat in run]
        ranges.append((f"{numbers[0]}-{numbers[-1]}" if len(numbers) > 1 else str(numbers[0]), price))
    return ranges


@admin.register(ConcertDate)
class ConcertDateAdmin(admin.ModelAdmin):
    """A concert date: how many seats are free, held and sold right now, its seats as a grid,
    and the box office's steps for it (generate seats, the live sale, cancel the date)."""

    list_display = ("concert", "date", "state", "seat_total", "free", "held", "sold", "live_sale")
    list_filter = ("concert", "date")
    search_fields = ("concert__title",)
    list_select_related = ("concert",)
    fields = ("concert", "date", "cancelled_at", "seat_grid")
    readonly_fields = ("cancelled_at", "seat_grid")
    actions = ["generate_seats", "cancel_dates"]

    def get_queryset(self, request):
        return with_seat_counts(super().get_queryset(request), now=timezone.now())

    def get_urls(self):
        generate = path(
            "generate-seats/",
            self.admin_site.admin_view(self.generate_seats_view),
            name="concerts_concertdate_generate_seats",
        )
        return [generate, *super().get_urls()]

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

    @admin.display(description="State")
    def state(self, obj):
        if obj.cancelled_at is not None:
            return "called off"
        return "past" if obj.is_closed(timezone.localdate()) else "on sale"

    @admin.display(description="Sale")
    def live_sale(self, obj):
        # The live sale page is the payments app's (it sees the money); this app links to it by name.
        return format_html('<a href="{}">Live sale</a>', reverse("admin:payments_sale", args=[obj.concert_id]))

    @admin.display(description="Seats now")
    def seat_grid(self, obj):
        if obj.pk is None:
            return "Save the date, then generate its seats."
        seats = seat_map(concert_id=obj.concert_id, date=obj.date, now=timezone.now())
        state = {None: "free", Status.HELD: "held", Status.CONFIRMED: "sold"}
        cells = [{**seat, "state": state[seat["booking_status"]], "price_text": won(seat["price"])} for seat in seats]
        return render_to_string(
            "admin/concerts/concertdate/seat_grid.html",
            {
                "seats": cells,
                "counts": {name: sum(cell["state"] == name for cell in cells) for name in state.values()},
                "price_ranges": [(numbers, won(price)) for numbers, price in price_ranges(seats)],
                "concert_date": obj,
                "closed": obj.is_closed(timezone.localdate()),
            },
        )

    @admin.action(description="Generate seats for the selected dates", permissions=["change"])
    def generate_seats(self, request, queryset):
        url = reverse("admin:concerts_concertdate_generate_seats")
        return HttpResponseRedirect(with_ids(url, queryset.values_list("pk", flat=True)))

    @admin.action(description="Call off the selected dates (refund every seat sold)…", permissions=["change"])
    def cancel_dates(self, request, queryset):
        # Calling a date off moves money, so the page is the payments app's; it asks before it acts.
        url = reverse("admin:payments_concert_dates_cancel")
        return HttpResponseRedirect(with_ids(url, queryset.values_list("pk", flat=True)))

    def generate_seats_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        ids = selected_ids(request)
        dates = date_seat_counts(concert_date_ids=ids, now=timezone.now())
        if not dates:
            self.message_user(request, "Choose one or more dates first.", messages.WARNING)
            return redirect("admin:concerts_concertdate_changelist")
        form = SeatGenerationForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            results = concert_dates_seats_generate(
                concert_date_ids=[row.concert_date.pk for row in dates], **form.generation()
            )
            self.message_user(request, generated_message(results), messages.SUCCESS)
            if len(dates) == 1:
                return redirect("admin:concerts_concertdate_change", dates[0].concert_date.pk)
            return redirect("admin:concerts_concertdate_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Generate seats",
            "opts": self.opts,
            "dates": dates,
            "form": form,
            "back_url": reverse("admin:concerts_concertdate_changelist"),
        }
        return TemplateResponse(request, "admin/concerts/concertdate/generate_seats.html", context)
