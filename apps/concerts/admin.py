from django.contrib import admin

from apps.concerts.models import Concert, ConcertDate, Seat


class ConcertDateInline(admin.TabularInline):
    model = ConcertDate
    extra = 1
    fields = ("date",)
    show_change_link = True


@admin.register(Concert)
class ConcertAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "venue", "date_count", "created_at")
    search_fields = ("title", "venue")
    inlines = [ConcertDateInline]

    @admin.display(description="Dates")
    def date_count(self, obj):
        return obj.dates.count()


@admin.register(Seat)
class SeatAdmin(admin.ModelAdmin):
    list_display = ("id", "concert_date", "number", "price")
    list_filter = ("concert_date__concert", "concert_date__date")
    search_fields = ("concert_date__concert__title",)
    list_select_related = ("concert_date__concert",)
    ordering = ("concert_date", "number")


# ConcertDate's admin lives in apps.reservations.admin: its free / held / sold counts are
# booking facts, and concerts must not depend on reservations.
