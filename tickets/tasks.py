from celery import shared_task

from tickets import reminders, services


@shared_task(ignore_result=True)
def sweep_expired_holds() -> int:
    """Beat, every 30 s: holds past their expiry go back on sale for good (reads already treat them as free)."""
    return services.holds_expire_due()


@shared_task(ignore_result=True)
def refresh_due_summaries() -> int:
    """Beat, every 60 s: price ranges and "tickets left" of events that time alone changed (tiers, sales ends)."""
    return services.event_summaries_due()


@shared_task(ignore_result=True)
def send_due_reminders() -> int:
    """Beat, every 60 s: on-sale and new-session reminders to the buyers who want the event (tickets.reminders)."""
    return reminders.reminders_due()
