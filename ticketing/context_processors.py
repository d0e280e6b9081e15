from django.conf import settings


def site(request):
    return {
        "DEBUG": settings.DEBUG,
        "IDLE_TIMEOUT_SECONDS": settings.IDLE_TIMEOUT_SECONDS,
        "IDLE_WARNING_SECONDS": settings.IDLE_WARNING_SECONDS,
        "IDLE_WARNING_MINUTES": settings.IDLE_WARNING_SECONDS // 60,
    }
