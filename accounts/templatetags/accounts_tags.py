from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from accounts.sms import ConsoleSMSBackend

register = template.Library()


@register.simple_tag
def sms_dev_outbox_url() -> str:
    """Where texts can be read while none is really sent (console backend and the dev
    outbox on), else "": with a real provider the code is on the phone."""
    if settings.DEV_OUTBOX and issubclass(import_string(settings.SMS_BACKEND), ConsoleSMSBackend):
        return reverse("accounts:sms_outbox")
    return ""
