from django.conf import settings


def site(request):
    user = getattr(request, "user", None)
    unread = 0
    if user is not None and user.is_authenticated:
        from accounts.notifications import unread_count

        unread = unread_count(user)
    return {
        "unread_notifications": unread,
        "DEBUG": settings.DEBUG,
        "IDLE_TIMEOUT_SECONDS": settings.IDLE_TIMEOUT_SECONDS,
        "IDLE_WARNING_SECONDS": settings.IDLE_WARNING_SECONDS,
        "IDLE_WARNING_MINUTES": settings.IDLE_WARNING_SECONDS // 60,
    }
