from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "mobile", "role", "is_active", "date_joined")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "email", "mobile", "display_name")
    fieldsets = DjangoUserAdmin.fieldsets + (
        (_("Platform"), {"fields": ("role", "mobile", "display_name", "avatar", "language")}),
    )
