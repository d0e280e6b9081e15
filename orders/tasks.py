from celery import shared_task

from orders import services


@shared_task(ignore_result=True)
def expire_unpaid_orders() -> int:
    """Beat, every 30 s: pending orders past their deadline expire and release their tickets."""
    return services.orders_expire_due()
