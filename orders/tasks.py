from celery import shared_task

from orders import cancellations, services, waitlist


@shared_task(ignore_result=True)
def expire_unpaid_orders() -> int:
    """Beat, every 30 s: pending orders past their deadline expire and release their tickets."""
    return services.orders_expire_due()


@shared_task(ignore_result=True)
def refund_cancellations() -> int:
    """Beat, every 60 s: open orders of cancelled sessions that their cancellation's own run left."""
    return cancellations.cancellation_refunds_due()


@shared_task(ignore_result=True)
def waitlist_sweep() -> int:
    """Beat, every 30 s: waiting lists get what came back (if the outbox has not already offered it), and
    lines of sessions that started close (deposits back)."""
    return waitlist.waitlist_offer_all() + waitlist.waitlist_close_due()
