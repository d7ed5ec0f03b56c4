from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from apps.accounts.models import ApiKey, User


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("prefix", "created_at")
    readonly_fields = fields
    can_delete = True  # deleting a key revokes it

    def has_add_permission(self, request, obj=None):
        return False  # keys are issued by signup or `seed_demo`, shown once


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = [ApiKeyInline]
    list_display = ("username", "id", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_active")
    search_fields = ("username", "=id")
