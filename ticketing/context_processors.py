from django.conf import settings


def site(request):
    return {"SITE_NAME_SHORT": "Ticketing", "DEBUG": settings.DEBUG}
