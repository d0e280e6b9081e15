from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts import services
from accounts.models import Notification, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "mobile", "role", "is_active", "date_joined")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "email", "mobile", "display_name")
    fieldsets = DjangoUserAdmin.fieldsets + (
        (_("Platform"), {"fields": ("role", "mobile", "mobile_verified", "display_name", "avatar", "language")}),
    )

    def save_model(self, request, obj, form, change):
        # A role changed here goes through the same service as everywhere else
        # (admin access follows the role, last-admin guard, audit log).
        role = obj.role
        if change and "role" in form.changed_data:
            obj.role = User.objects.get(pk=obj.pk).role
            super().save_model(request, obj, form, change)
            services.user_set_role(actor=request.user, user=obj, role=role)
            obj.refresh_from_db()
        else:
            super().save_model(request, obj, form, change)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "kind", "created_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("title", "user__email", "user__username")
    raw_id_fields = ("user",)
    date_hierarchy = "created_at"
