"""Pages and API routes of the accounts domain (mounted at the site root by ticketing.urls)."""

from django.urls import path

from accounts import api, views

app_name = "accounts"
urlpatterns = [
    # pages
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/keepalive/", views.keepalive, name="keepalive"),
    path("manage/users/", views.user_list, name="user_list"),
    path("manage/users/<int:user_id>/role/", views.user_role, name="user_role"),
    path("dev/sms/", views.sms_outbox, name="sms_outbox"),
    path("dev/mail/", views.mail_outbox, name="mail_outbox"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notification_read, name="notifications_read"),
    # API
    path("api/auth/register", api.RegisterView.as_view(), name="api_register"),
    path("api/auth/login", api.LoginView.as_view(), name="api_login"),
    path("api/auth/refresh", api.RefreshView.as_view(), name="api_refresh"),
    path("api/auth/logout", api.LogoutView.as_view(), name="api_logout"),
    path("api/user/profile", api.ProfileView.as_view(), name="api_profile"),
    path("api/users/<int:user_id>/role", api.UserRoleView.as_view(), name="api_user_role"),
]
