from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from accounts.models import Notification


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_notification_email(notification_id: int) -> None:
    """Email a notification to its user (retried while the mail server is away)."""
    note = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if note is None or not note.user.email:
        return
    link = f"\n\n{settings.SITE_URL}{note.url}" if note.url else ""
    send_mail(f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{note.title}", f"{note.body}{link}",
              settings.DEFAULT_FROM_EMAIL, [note.user.email])
