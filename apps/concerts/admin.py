from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Max, Min
from django.urls import reverse
from django.utils.html import format_html

from apps.common.errors import ValidationFailed
from apps.common.formats import won
from apps.concerts.models import MAX_SEATS_PER_DATE, Concert, ConcertDate, Seat
from apps.concerts.services import SeatsGenerated, concert_seats_generate, price_tiers_parse, seat_prices


class SeatGenerationForm(forms.Form):
    """How many seats a date has and what they cost; `seat_prices` judges it. On the concert page
    generating is optional (no price and no tiers: nothing happens); elsewhere it is the point."""

    seats = forms.IntegerField(
        label="Seats per date", min_value=1, max_value=MAX_SEATS_PER_DATE, initial=MAX_SEATS_PER_DATE
    )
    price = forms.IntegerField(
        label="Price (won)", min_value=1, required=False, help_text="For every seat no tier covers."
    )
    tiers = forms.CharField(
        label="Price tiers",
        required=False,
        widget=forms.TextInput(attrs={"size": 50, "placeholder": "1-10: 200000, 11-50: 150000"}),
        help_text='Optional: prices by seat range, e.g. "1-10: 200000, 11-50: 150000".',
    )
    generation_required = True

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            cleaned["tiers"] = price_tiers_parse(cleaned.get("tiers") or "")
        except ValidationFailed as error:
            self.add_error("tiers", error.detail)
            return cleaned
        if cleaned.get("price") is None and not cleaned["tiers"]:
            if self.generation_required:
                self.add_error("price", "Give a price, price tiers, or both.")
            return cleaned
        try:
            seat_prices(seats=cleaned["seats"], price=cleaned.get("price"), tiers=cleaned["tiers"])
        except ValidationFailed as error:
            self.add_error(None, error.detail)
        return cleaned

    def generation(self) -> dict | None:
        """The generation service's arguments, or None when the form asks for none."""
        data = self.cleaned_data
        if data.get("price") is None and not data.get("tiers"):
            return None
        return {"seats": data["seats"], "price": data.get("price"), "tiers": data["tiers"]}


def generated_message(results: list[tuple[ConcertDate, SeatsGenerated]]) -> str:
    """One line per date for the message staff see after generating."""
    if not results:
        return "No date needed seats."
    lines = []
    for concert_date, result in results:
        line = f"{concert_date}: {result.created} seat(s) created, {result.repriced} repriced"
        if result.unchanged:
            line += f", {result.unchanged} already so"
        if result.beyond:
            line += f", {result.beyond} beyond the count left as they were"
        lines.append(line)
    return "Seats generated. " + "; ".join(lines) + "."


class ConcertForm(SeatGenerationForm, forms.ModelForm):
    generation_required = False
    seat_dates = forms.ChoiceField(
        label="Generate for",
        choices=[("new", "dates that have no seats yet"), ("all", "every date (reprices existing seats)")],
        initial="new",
        widget=forms.RadioSelect,
    )

    class Meta:
        model = Concert
        fields = ("title", "venue")


class ConcertDateInline(admin.TabularInline):
    model = ConcertDate
    extra = 1
    fields = ("date", "seat_summary")
    readonly_fields = ("seat_summary",)
    show_change_link = True

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(seat_total=Count("seats"), lowest_price=Min("seats__price"), highest_price=Max("seats__price"))
        )

    @admin.display(description="Seats")
    def seat_summary(self, obj):
        if obj.pk is None or not getattr(obj, "seat_total", 0):
            return "none yet"
        prices = won(obj.lowest_price)
        if obj.highest_price != obj.lowest_price:
            prices += f" to {won(obj.highest_price)}"
        return f"{obj.seat_total} at {prices}"


@admin.register(Concert)
class ConcertAdmin(admin.ModelAdmin):
    """A sale set up on one page: the concert, its dates, and each date's seats in one step."""

    form = ConcertForm
    list_display = ("id", "title", "venue", "date_count", "created_at", "live_sale")
    search_fields = ("title", "venue")
    inlines = [ConcertDateInline]
    fieldsets = [
        (None, {"fields": ("title", "venue")}),
        (
            "Seats",
            {
                "fields": ("seats", "price", "tiers", "seat_dates"),
                "description": "Give a price (and, if you like, price tiers) to generate the dates' seats "
                "when you save. Generating again never duplicates a seat; leave the price and tiers empty "
                "to leave the seats as they are.",
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(date_total=Count("dates"))

    @admin.display(description="Dates", ordering="date_total")
    def date_count(self, obj):
        return obj.date_total

    @admin.display(description="Sale")
    def live_sale(self, obj):
        # The live sale page is the payments app's (it sees the queue and the money); this app
        # links to it by name and imports nothing of it.
        return format_html('<a href="{}">Live sale</a>', reverse("admin:payments_sale", args=[obj.pk]))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # the dates first: their seats come next
        generation = form.generation()
        if generation is None:
            return
        results = concert_seats_generate(
            concert_id=form.instance.pk, only_dates_without_seats=form.cleaned_data["seat_dates"] == "new", **generation
        )
        self.message_user(request, generated_message(results), messages.SUCCESS)


@admin.register(Seat)
class SeatAdmin(admin.ModelAdmin):
    list_display = ("id", "concert_date", "number", "price")
    list_filter = ("concert_date__concert", "concert_date__date")
    search_fields = ("concert_date__concert__title",)
    list_select_related = ("concert_date__concert",)
    ordering = ("concert_date", "number")


# ConcertDate's admin lives in apps.reservations.admin: its free / held / sold counts and its seat
# grid are booking facts, and concerts must not depend on reservations.
